"""Safe image I/O: every kind of bad upload gets a one-line InputError naming the file."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tryon.errors import InputError
from tryon.imaging import load_image


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _claimed_size_png(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims another size (a decompression-bomb shape)."""
    data = bytearray(_png_bytes(Image.new("RGB", (8, 8))))
    ihdr = data[12:29]
    ihdr[4:8] = struct.pack(">I", width)
    ihdr[8:12] = struct.pack(">I", height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello, I am not a picture")
    with pytest.raises(InputError, match="notes.jpg: not an image"):
        load_image(path)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(empty)
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(_png_bytes(Image.new("RGB", (64, 64), "red"))[:60])
    with pytest.raises(InputError, match="cut.png"):
        load_image(path)


def test_huge_image_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_claimed_size_png(20000, 20000))
    with pytest.raises(InputError, match="bomb.png: .*too large"):
        load_image(path)


def test_modes_are_normalised_to_rgb_uint8():
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    assert (load_image(_png_bytes(rgba)) == 255).all()  # transparent -> white
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    buf = io.BytesIO()
    cmyk.save(buf, format="JPEG")
    out = load_image(buf.getvalue())
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8 and out[..., 0].mean() > 200
    grey16 = Image.fromarray(np.full((16, 16), 65535, np.uint16))
    assert load_image(_png_bytes(grey16)).min() == 255


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    assert load_image(buf.getvalue()).shape == (40, 20, 3)


def test_large_image_over_our_limit_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_claimed_size_png(9000, 6000))  # 54 MP: under PIL's bomb limit, over ours
    with pytest.raises(InputError, match="9000x6000 is too large"):
        load_image(path)
