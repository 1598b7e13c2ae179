"""The one image decoder (node and bag tool): every accepted encoding checked on pixel values,
the compressed-image header checks, and the reasons bad frames are rejected with."""
import array
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from litepose_ros.image.messages import (
    ENCODINGS,
    MAX_COMPRESSED_PIXELS,
    BadImage,
    compressed_header,
    compressed_to_bgr,
    image_to_bgr,
)
from litepose_ros.image.preprocess import MAX_PIXELS

RNG = np.random.RandomState(5)
BGR = RNG.randint(0, 256, (6, 8, 3)).astype(np.uint8)


def raw(encoding: str, pixels: np.ndarray, pad: int = 0, big_endian: bool = False, data_type: Any = bytes):
    """An Image message (as rclpy and rosbags have it) holding ``pixels`` row by row, rows padded."""
    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels).reshape(height, -1).view(np.uint8)
    padded = np.zeros((height, rows.shape[1] + pad), np.uint8)
    padded[:, :rows.shape[1]] = rows
    data = data_type(padded.tobytes()) if data_type is not np.ndarray else padded.reshape(-1)
    return SimpleNamespace(encoding=encoding, width=width, height=height, step=padded.shape[1],
                           is_bigendian=int(big_endian), data=data)


def compressed(image: np.ndarray, ext: str = ".png", fmt: str = "", params: Any = ()) -> SimpleNamespace:
    ok, encoded = cv2.imencode(ext, image, list(params))
    assert ok
    return SimpleNamespace(format=fmt or ext.lstrip("."), data=array.array("B", encoded.tobytes()))


@pytest.mark.parametrize("data_type", [bytes, bytearray, np.ndarray, list])
@pytest.mark.parametrize("encoding", ["bgr8", "BGR8", "8UC3"])
def test_bgr8_any_buffer_and_padding(encoding, data_type):
    np.testing.assert_array_equal(image_to_bgr(raw(encoding, BGR, pad=5, data_type=data_type)), BGR)


@pytest.mark.parametrize("encoding, pixels", [
    ("rgb8", BGR[:, :, ::-1]),
    ("bgra8", np.dstack([BGR, np.full(BGR.shape[:2], 77, np.uint8)])),
    ("rgba8", np.dstack([BGR[:, :, ::-1], np.full(BGR.shape[:2], 77, np.uint8)])),
])
def test_colour_encodings(encoding, pixels):
    np.testing.assert_array_equal(image_to_bgr(raw(encoding, pixels, pad=3)), BGR)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8_fills_all_channels(encoding):
    gray = BGR[:, :, 1]
    np.testing.assert_array_equal(image_to_bgr(raw(encoding, gray, pad=1)), np.dstack([gray] * 3))


@pytest.mark.parametrize("big_endian", [False, True])
def test_16_bit_encodings_keep_the_most_significant_byte(big_endian):
    low = RNG.randint(0, 256, BGR.shape).astype(np.uint16)
    wide = (BGR.astype(np.uint16) << 8) | low  # low bytes differ from high ones: a wrong byte shows
    wide = wide.astype(">u2" if big_endian else "<u2")
    mono = image_to_bgr(raw("mono16", wide[:, :, 0], pad=2, big_endian=big_endian))
    np.testing.assert_array_equal(mono, np.dstack([BGR[:, :, 0]] * 3))
    np.testing.assert_array_equal(image_to_bgr(raw("bgr16", wide, pad=2, big_endian=big_endian)), BGR)
    np.testing.assert_array_equal(image_to_bgr(raw("rgb16", wide[:, :, ::-1], big_endian=big_endian)), BGR)


# Row 0 / row 1 colours of a 2x2 Bayer cell, as ROS names the pattern (first row first).
BAYER = {"bayer_rggb8": ("RG", "GB"), "bayer_bggr8": ("BG", "GR"), "bayer_gbrg8": ("GB", "RG"),
         "bayer_grbg8": ("GR", "BG")}


@pytest.mark.parametrize("encoding", sorted(BAYER))
def test_bayer_patterns(encoding):
    """A flat colour mosaicked in the named pattern demosaics back to that colour."""
    colour = {"B": 20, "G": 120, "R": 220}
    mosaic = np.zeros((16, 16), np.uint8)
    for dy, row in enumerate(BAYER[encoding]):
        for dx, name in enumerate(row):
            mosaic[dy::2, dx::2] = colour[name]
    image = image_to_bgr(raw(encoding, mosaic))
    np.testing.assert_array_equal(image[2:-2, 2:-2], np.full((12, 12, 3), [20, 120, 220], np.uint8))


def bt601(y: float, u: float, v: float) -> np.ndarray:
    """BGR of one YUV pixel, ITU-R BT.601 video range (what camera YUV 4:2:2 uses)."""
    c, d, e = 1.164 * (y - 16), u - 128, v - 128
    return np.clip([c + 2.018 * d, c - 0.391 * d - 0.813 * e, c + 1.596 * e], 0, 255)


@pytest.mark.parametrize("encoding, order", [("uyvy", "UYVY"), ("yuv422", "UYVY"), ("yuyv", "YUYV"),
                                             ("yuv422_yuy2", "YUYV")])
def test_yuv422_byte_orders(encoding, order):
    """Two pixels share U and V; the byte order decides which byte is which."""
    y0, y1, u, v = 60, 200, 90, 200
    values = {"Y": [y0, y1], "U": [u], "V": [v]}
    pair = [values[name].pop(0) for name in order]  # e.g. UYVY -> U Y0 V Y1
    image = image_to_bgr(raw(encoding, np.tile(np.array(pair, np.uint8).reshape(1, 1, 4), (4, 3, 1))
                             .reshape(4, 6, 2), pad=4))
    assert image.shape == (4, 6, 3)
    np.testing.assert_allclose(image[:, 0::2], np.broadcast_to(bt601(y0, u, v), (4, 3, 3)), atol=3)
    np.testing.assert_allclose(image[:, 1::2], np.broadcast_to(bt601(y1, u, v), (4, 3, 3)), atol=3)


def test_every_accepted_encoding_is_tested_on_pixels():
    tested = {"bgr8", "8uc3", "rgb8", "bgra8", "rgba8", "mono8", "8uc1", "mono16", "bgr16", "rgb16"}
    tested |= set(BAYER) | {"uyvy", "yuv422", "yuyv", "yuv422_yuy2"}
    assert set(ENCODINGS) == tested


@pytest.mark.parametrize("change, reason", [
    (dict(encoding="16UC1"), r"unsupported encoding '16UC1' \(accepted: bgr8, "),
    (dict(encoding="32FC1"), "unsupported encoding '32FC1'"),
    (dict(width=0, height=0, step=0), "empty image"),
    (dict(width=100000, height=100000, step=300000), "pixel limit"),
    (dict(step=10), "step 10 is shorter than a 8-pixel bgr8 row"),
    (dict(data=bytes(100)), r"truncated image: data shorter than height x step \(8x6 bgr8\)"),
    (dict(encoding="yuyv", width=3, step=6), "yuyv image of odd width 3"),
    (dict(encoding="UYVY", width=1, height=1, step=2), "UYVY image of odd width 1"),
])
def test_bad_raw_images(change, reason):
    msg = raw("bgr8", BGR)
    for name, value in change.items():
        setattr(msg, name, value)
    with pytest.raises(BadImage, match=reason):
        image_to_bgr(msg)


# -- compressed ---------------------------------------------------------------------------------

def test_png_is_lossless_and_jpeg_decodes():
    np.testing.assert_array_equal(compressed_to_bgr(compressed(BGR, ".png", "bgr8; png compressed bgr8")), BGR)
    smooth = cv2.resize(BGR, (64, 48), interpolation=cv2.INTER_LINEAR)
    for params in ([], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]):
        decoded = compressed_to_bgr(compressed(smooth, ".jpg", "jpeg", [cv2.IMWRITE_JPEG_QUALITY, 98] + params))
        assert decoded.shape == (48, 64, 3) and np.abs(decoded.astype(int) - smooth).mean() < 4


def test_16_bit_png_keeps_the_most_significant_byte():
    wide = (BGR.astype(np.uint16) << 8) | 0x5A
    np.testing.assert_array_equal(compressed_to_bgr(compressed(wide, ".png", "bgr16; png compressed bgr16")), BGR)
    gray = compressed_to_bgr(compressed(wide[:, :, 2], ".png", "mono16; png compressed mono16"))
    np.testing.assert_array_equal(gray, np.dstack([BGR[:, :, 2]] * 3))


@pytest.mark.parametrize("fmt, reason", [
    ("16UC1; png compressed", "unsupported encoding '16UC1' in compressed format"),
    ("32FC1; compressedDepth png", "depth image"),
])
def test_depth_formats_are_rejected(fmt, reason):
    with pytest.raises(BadImage, match=reason):
        compressed_to_bgr(compressed(BGR[:, :, 0].astype(np.uint16), ".png", fmt))


@pytest.mark.parametrize("ext, params", [(".png", []), (".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])])
def test_header_size_without_decoding(ext, params):
    image = np.zeros((37, 53, 3), np.uint8)
    data = np.frombuffer(compressed(image, ext, params=params).data, np.uint8)
    assert compressed_header(data)[1:] == (53, 37)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header is rewritten to claim width x height."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize("width, height, reason", [
    (15000, 15000, "exceeds the {} pixel limit".format(MAX_PIXELS)),
    (4000, 4000, r"claims 4000x4000 pixels, too many for its size \(decompression bomb\?\)"),
])
def test_decompression_bomb_is_rejected_from_its_header(width, height, reason):
    bomb = jpeg_claiming(width, height)
    assert len(bomb) < 1000
    with pytest.raises(BadImage, match=reason):
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=bomb))


@pytest.mark.parametrize("data, reason", [
    (b"", "empty compressed image"),
    (b"GIF89a........", "neither JPEG nor PNG"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "corrupt JPEG header"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "corrupt PNG header"),
])
def test_bad_compressed_images(data, reason):
    with pytest.raises(BadImage, match=reason):
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=data))


def test_corrupt_jpeg_data_is_a_bad_image():
    data = jpeg_claiming(16, 16)
    cut = data[:data.index(b"\xff\xda")]  # headers only, no scan
    with pytest.raises(BadImage, match="cannot decode JPEG image: corrupt or truncated"):
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=cut))


# -- issue 22: bounded work per frame (item 4) and JPEGs that decode only with warnings (item 10)

def big_flat_png(side: int = 8192) -> bytes:
    """A few hundred KB of PNG that decodes to side x side x 3 (192 MiB at 8192)."""
    ok, encoded = cv2.imencode(".png", np.zeros((side, side), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return encoded.tobytes()


def test_large_compressed_frames_are_rejected_from_the_header():
    bomb = big_flat_png()
    assert len(bomb) < 400_000 and 8192 * 8192 <= MAX_PIXELS  # passes the raw-frame limit and the bomb ratio
    with pytest.raises(BadImage, match="PNG of 8192x8192 exceeds the {} pixel limit for compressed frames".format(
            MAX_COMPRESSED_PIXELS)):
        compressed_to_bgr(SimpleNamespace(format="png", data=bomb))
    side = 4096  # the largest square frame still decodes
    image = compressed_to_bgr(SimpleNamespace(format="png", data=big_flat_png(side)))
    assert image.shape == (side, side, 3)


def smooth_jpeg(width: int = 320, height: int = 240) -> bytearray:
    image = cv2.GaussianBlur(np.random.RandomState(0).randint(0, 256, (height, width, 3)).astype(np.uint8), (9, 9), 3)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytearray(encoded.tobytes())


def test_jpeg_header_claiming_more_pixels_than_its_bytes_hold():
    """A 16x16 stream whose header claims 1000x1000: libjpeg decodes it (grey) with a warning."""
    data = jpeg_claiming(1000, 1000)
    with pytest.raises(BadImage, match=r"JPEG header claims 1000x1000 pixels, more than its \d+ bytes can hold"):
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=data))


def test_jpeg_decoded_with_libjpeg_warnings_is_rejected_and_stderr_stays_quiet(capfd):
    data = smooth_jpeg()
    scan = data.index(b"\xff\xda")
    corrupt = bytearray(data)
    corrupt[scan + 40:scan + 60] = b"\xff\xd0" * 10  # restart markers where none belong
    reasons = set()
    for _ in range(3):
        with pytest.raises(BadImage, match=r"corrupt JPEG data \(") as caught:
            compressed_to_bgr(SimpleNamespace(format="jpeg", data=bytes(corrupt)))
        reasons.add(str(caught.value))
    assert len(reasons) == 1, "one fault, one reason (countable)"
    truncated = bytes(data[:len(data) * 2 // 3])  # a cut stream: libjpeg fills the rest with grey
    with pytest.raises(BadImage, match="no end-of-image marker"):  # OpenCV 4.2 says nothing: checked first
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=truncated))
    padded = bytes(data) + bytes(16)  # some encoders pad after the end marker
    assert compressed_to_bgr(SimpleNamespace(format="jpeg", data=padded)).shape == (240, 320, 3)
    assert compressed_to_bgr(SimpleNamespace(format="jpeg", data=bytes(data))).shape == (240, 320, 3)
    out, err = capfd.readouterr()
    assert "JPEG" not in err and "JPEG" not in out, "libjpeg's warnings are the reasons, not stderr lines"
