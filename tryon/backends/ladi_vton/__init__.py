"""LaDI-VTON (Morelli et al., ACM MM 2023): latent diffusion try-on with textual inversion and EMASC skips."""
