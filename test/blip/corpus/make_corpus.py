#!/usr/bin/python3
"""Builds the real-image corpus and its Pillow references (run by make-corpus.sh; see README.md here).

Sources: photographs and artwork of Debian's python3-skimage package (skimage/data: chelsea and coffee
are CC0, astronaut and rocket public domain, the package is BSD-3-Clause). Every corpus file is made
from them here: GIF, BMP, ICO and JPEG variants with Debian's python3-pil (plus the few BMP layouts
Pillow cannot write, written by the small writers below), HEIC with Debian's heif-enc.

References (reference/<file>.png, lossless RGB): Pillow's `Image.open(f)` -> `ImageOps.exif_transpose`
-> `convert("RGB")`. Pillow cannot read HEIC, so a HEIC's reference is libheif's own decode
(`heif-convert`, which applies irot/imir) read by Pillow the same way.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import PIL
from PIL import Image, ImageOps

SRC = sys.argv[1]
OUT = sys.argv[2]
IMAGES = os.path.join(OUT, "images")
REFS = os.path.join(OUT, "reference")
os.makedirs(IMAGES, exist_ok=True)
os.makedirs(REFS, exist_ok=True)
manifest = []


def src(name):
    return Image.open(os.path.join(SRC, name))


def add(name, what, source, reference="pillow"):
    manifest.append({"file": name, "what": what, "source": source, "reference": reference})


def path(name):
    return os.path.join(IMAGES, name)


# ---------------------------------------------------------------- BMP writers for layouts Pillow cannot write
def bmp_file(width, height, bits, pixels, *, compression=0, palette=None, masks=None, header=40, top_down=False):
    """pixels: the stored pixel bytes (rows already padded and ordered as they go in the file)."""
    pal = b""
    if palette is not None:
        entry = 3 if header == 12 else 4
        pal = b"".join(bytes([b, g, r]) + (b"\0" if entry == 4 else b"") for r, g, b in palette)
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        info = struct.pack(
            "<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits, compression, len(pixels),
            2835, 2835, len(palette or []), 0,
        )
        extra = b""
        if masks is not None and header >= 52:
            extra = struct.pack("<IIII", *masks)
        elif masks is not None:
            pal = struct.pack("<III", *masks[:3]) + pal
        info += extra + b"\0" * (header - len(info) - len(extra))
    offset = 14 + len(info) + len(pal)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + info + pal + pixels


def rows(im, row_bytes_fn, bits, top_down=False):
    w, h = im.size
    stride = ((w * bits + 31) >> 3) & ~3
    order = range(h) if top_down else range(h - 1, -1, -1)
    out = bytearray()
    for y in order:
        r = row_bytes_fn(y)
        out += r + b"\0" * (stride - len(r))
    return bytes(out)


def packed_indices(im, y, bits):
    w = im.size[0]
    px = im.load()
    out = bytearray()
    per = 8 // bits
    for x0 in range(0, w, per):
        byte = 0
        for k in range(per):
            v = px[x0 + k, y] if x0 + k < w else 0
            byte |= v << (8 - bits * (k + 1))
        out.append(byte)
    return bytes(out)


def rle(im, encode_row):
    """RLE bitmap data: each row (bottom row first) as encode_row gives it, an end-of-line, then end-of-bitmap."""
    w, h = im.size
    px = im.load()
    out = bytearray()
    for y in range(h - 1, -1, -1):
        out += encode_row([px[x, y] for x in range(w)]) + b"\0\0"
    return bytes(out + b"\0\1")


def run_length(row, x, limit):
    run = 1
    while x + run < len(row) and run < limit and row[x + run] == row[x]:
        run += 1
    return run


def rle8_row(row):
    w, x, out = len(row), 0, bytearray()
    while x < w:
        run = run_length(row, x, 255)
        if run >= 3:
            out += bytes([run, row[x]])
            x += run
            continue
        # absolute run of pixels until a repeat of 3 starts (at least 3 long, as the format needs)
        end = x
        while end < w and end - x < 255 and not (end + 2 < w and row[end] == row[end + 1] == row[end + 2]):
            end += 1
        n = end - x
        if n < 3:
            for v in row[x:end]:
                out += bytes([1, v])
        else:
            out += bytes([0, n]) + bytes(row[x:end]) + (b"\0" if n % 2 else b"")
        x = end
    return bytes(out)


def rle4_row(row):
    """Encoded runs of equal pixels and absolute runs of even length (read alike by every decoder)."""
    w, x, out = len(row), 0, bytearray()
    while x < w:
        run = run_length(row, x, 254)
        if run >= 4 or w - x < 4:
            n = run if run >= 4 else 1
            out += bytes([n, (row[x] << 4) | row[x]])
            x += n
            continue
        n = min(16, (w - x) & ~1)
        data = bytearray((row[x + i] << 4) | row[x + i + 1] for i in range(0, n, 2))
        out += bytes([0, n]) + data + (b"\0" if len(data) % 2 else b"")
        x += n
    return bytes(out)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- GIF
def gif_with_frame_offset(name, frame, canvas, offset, transparency):
    tmp = path(name)
    if transparency is None:
        frame.save(tmp)
    else:
        frame.save(tmp, transparency=transparency)
    b = bytearray(open(tmp, "rb").read())
    b[6:10] = struct.pack("<HH", *canvas)
    i = b.index(b"\x2c", 13 + (3 << ((b[10] & 7) + 1)))
    b[i + 1 : i + 5] = struct.pack("<HH", *offset)
    write(name, bytes(b))


def make_gifs():
    logo = src("logo.png").convert("RGBA").resize((96, 96), Image.LANCZOS)
    alpha = logo.getchannel("A")
    pal_img = logo.convert("RGB").quantize(colors=255)
    palette = pal_img.getpalette()[: 255 * 3] + [250, 240, 200]
    pal_img.putpalette(palette)
    px = pal_img.load()
    a = alpha.load()
    rgb = logo.load()
    for y in range(96):
        for x in range(96):
            # The logo stands on white: its background (and anything see-through) becomes transparent.
            if a[x, y] < 128 or min(rgb[x, y][:3]) > 235:
                px[x, y] = 255
    pal_img.save(path("gif_logo_transparent.gif"), transparency=255)
    add("gif_logo_transparent.gif", "GIF, transparent index 255 (palette colour 250,240,200) around a logo", "logo.png")

    cat = src("chelsea.png").convert("RGB").resize((80, 53), Image.LANCZOS).quantize(colors=200)
    p = cat.getpalette()[: 200 * 3] + [10, 200, 30] * 56
    cat.putpalette(p)
    gif_with_frame_offset("gif_frame_offset_transparent.gif", cat, (100, 70), (12, 9), 201)
    add("gif_frame_offset_transparent.gif", "GIF, 80x53 first frame at (12, 9) on a 100x70 canvas, transparent index 201", "chelsea.png")
    gif_with_frame_offset("gif_frame_offset_opaque.gif", cat, (100, 70), (12, 9), None)
    add("gif_frame_offset_opaque.gif", "GIF, 80x53 first frame at (12, 9) on a 100x70 canvas, no transparency", "chelsea.png")

    anim = open(os.path.join(SRC, "no_time_for_that_tiny.gif"), "rb").read()
    write("gif_animated.gif", anim)
    add("gif_animated.gif", "animated GIF (24 frames) as the package ships it", "no_time_for_that_tiny.gif")


# ---------------------------------------------------------------- BMP
def make_bmps():
    photo = src("chelsea.png").convert("RGB").resize((61, 41), Image.LANCZOS)
    photo.save(path("bmp_24.bmp"))
    add("bmp_24.bmp", "BMP 24-bit, bottom-up, odd width (row padding)", "chelsea.png")
    photo.convert("L").save(path("bmp_8_gray.bmp"))
    add("bmp_8_gray.bmp", "BMP 8-bit greyscale palette", "chelsea.png")
    pal = photo.quantize(colors=256)
    pal.save(path("bmp_8_palette.bmp"))
    add("bmp_8_palette.bmp", "BMP 8-bit palette", "chelsea.png")
    photo.convert("1").save(path("bmp_1.bmp"))
    add("bmp_1.bmp", "BMP 1-bit", "chelsea.png")

    w, h = photo.size
    rgb = photo.load()
    bgr = lambda y: b"".join(bytes([rgb[x, y][2], rgb[x, y][1], rgb[x, y][0]]) for x in range(w))
    write("bmp_24_top_down.bmp", bmp_file(w, h, 24, rows(photo, bgr, 24, top_down=True), top_down=True))
    add("bmp_24_top_down.bmp", "BMP 24-bit, top-down (negative height)", "chelsea.png")
    write("bmp_24_os2.bmp", bmp_file(w, h, 24, rows(photo, bgr, 24), header=12))
    add("bmp_24_os2.bmp", "BMP 24-bit with the 12-byte OS/2 header", "chelsea.png")

    bgrx = lambda y: b"".join(bytes([rgb[x, y][2], rgb[x, y][1], rgb[x, y][0], (x * 7) & 255]) for x in range(w))
    write("bmp_32.bmp", bmp_file(w, h, 32, rows(photo, bgrx, 32)))
    add("bmp_32.bmp", "BMP 32-bit BI_RGB (fourth byte ignored)", "chelsea.png")
    write("bmp_32_v5_bgra.bmp", bmp_file(w, h, 32, rows(photo, bgrx, 32), compression=3, header=124, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    add("bmp_32_v5_bgra.bmp", "BMP 32-bit, BITMAPV5HEADER, bit fields with alpha", "chelsea.png")
    xbgr = lambda y: b"".join(bytes([0, rgb[x, y][2], rgb[x, y][1], rgb[x, y][0]]) for x in range(w))
    write("bmp_32_xbgr.bmp", bmp_file(w, h, 32, rows(photo, xbgr, 32), compression=3, masks=(0xFF000000, 0xFF0000, 0xFF00, 0)))
    add("bmp_32_xbgr.bmp", "BMP 32-bit, bit fields R G B in the high bytes (masks after a 40-byte header)", "chelsea.png")

    def px565(y):
        return b"".join(struct.pack("<H", ((rgb[x, y][0] >> 3) << 11) | ((rgb[x, y][1] >> 2) << 5) | (rgb[x, y][2] >> 3)) for x in range(w))

    def px555(y):
        return b"".join(struct.pack("<H", ((rgb[x, y][0] >> 3) << 10) | ((rgb[x, y][1] >> 3) << 5) | (rgb[x, y][2] >> 3)) for x in range(w))

    write("bmp_16_565.bmp", bmp_file(w, h, 16, rows(photo, px565, 16), compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)))
    add("bmp_16_565.bmp", "BMP 16-bit 5-6-5 (bit fields)", "chelsea.png")
    write("bmp_16_555.bmp", bmp_file(w, h, 16, rows(photo, px555, 16)))
    add("bmp_16_555.bmp", "BMP 16-bit 5-5-5 (BI_RGB)", "chelsea.png")

    p16 = photo.quantize(colors=16)
    pal16 = [tuple(p16.getpalette()[3 * i : 3 * i + 3]) for i in range(16)]
    write("bmp_4.bmp", bmp_file(w, h, 4, rows(p16, lambda y: packed_indices(p16, y, 4), 4), palette=pal16))
    add("bmp_4.bmp", "BMP 4-bit palette", "chelsea.png")
    write("bmp_rle4.bmp", bmp_file(w, h, 4, rle(p16, rle4_row), compression=2, palette=pal16))
    add("bmp_rle4.bmp", "BMP RLE4", "chelsea.png")
    pal256 = [tuple(pal.getpalette()[3 * i : 3 * i + 3]) for i in range(256)]
    write("bmp_rle8.bmp", bmp_file(w, h, 8, rle(pal, rle8_row), compression=1, palette=pal256))
    add("bmp_rle8.bmp", "BMP RLE8", "chelsea.png")
    write("bmp_8_os2.bmp", bmp_file(w, h, 8, rows(pal, lambda y: bytes(pal.load()[x, y] for x in range(w)), 8), palette=pal256, header=12))
    add("bmp_8_os2.bmp", "BMP 8-bit palette with the OS/2 header (3-byte palette entries)", "chelsea.png")


# ---------------------------------------------------------------- ICO
def dib(im, bits):
    """An ICO bitmap entry: BITMAPINFOHEADER with doubled height, colours, then an all-opaque AND mask."""
    w, h = im.size
    if bits == 32:
        c = im.convert("RGBA").load()
        colour = rows(im, lambda y: b"".join(bytes([c[x, y][2], c[x, y][1], c[x, y][0], c[x, y][3]]) for x in range(w)), 32)
        palette = b""
    elif bits == 24:
        c = im.convert("RGB").load()
        colour = rows(im, lambda y: b"".join(bytes([c[x, y][2], c[x, y][1], c[x, y][0]]) for x in range(w)), 24)
        palette = b""
    else:
        q = im.convert("RGB").quantize(colors=1 << bits)
        pal = q.getpalette()
        palette = b"".join(bytes([pal[3 * i + 2], pal[3 * i + 1], pal[3 * i], 0]) for i in range(1 << bits))
        colour = rows(q, lambda y: packed_indices(q, y, bits) if bits < 8 else bytes(q.load()[x, y] for x in range(w)), bits)
    mask = b"\0" * ((((w + 31) >> 3) & ~3) * h)
    header = struct.pack("<IiiHHIIiiII", 40, w, 2 * h, 1, bits, 0, len(colour) + len(mask), 0, 0, 0, 0)
    return header + palette + colour + mask


def make_icos():
    logo = src("logo.png").convert("RGBA")
    logo.save(path("ico_png.ico"), sizes=[(16, 16), (32, 32), (48, 48)])
    add("ico_png.ico", "ICO with PNG entries 16, 32, 48 (Pillow shows the 48)", "logo.png")
    astro = src("astronaut.png").convert("RGB")
    entries = [(astro.resize((16, 16), Image.LANCZOS), 8), (astro.resize((40, 40), Image.LANCZOS), 4), (astro.resize((40, 40), Image.LANCZOS), 24), (astro.resize((32, 32), Image.LANCZOS), 32)]
    blobs = [dib(im, bits) for im, bits in entries]
    offset = 6 + 16 * len(entries)
    directory = b""
    for (im, bits), blob in zip(entries, blobs):
        colours = (1 << bits) if bits < 8 else 0
        directory += struct.pack("<BBBBHHII", im.size[0], im.size[1], colours & 255, 0, 1, bits, len(blob), offset)
        offset += len(blob)
    write("ico_bmp.ico", struct.pack("<HHH", 0, 1, len(entries)) + directory + b"".join(blobs))
    add("ico_bmp.ico", "ICO with bitmap entries 16 (8-bit), 40 (4-bit), 40 (24-bit), 32 (32-bit): Pillow shows the 40 24-bit", "astronaut.png")


# ---------------------------------------------------------------- JPEG orientation
def make_jpegs():
    rocket = src("rocket.jpg").convert("RGB").resize((48, 32), Image.LANCZOS)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        name = f"jpeg_orientation_{orientation}.jpg"
        rocket.save(path(name), quality=90, exif=exif.tobytes())
        add(name, f"JPEG 48x32 with EXIF orientation {orientation}", "rocket.jpg")


# ---------------------------------------------------------------- HEIC
def png16(im, file):
    """A 16-bit RGB PNG (Pillow writes none): each 8-bit value v stored as v * 257."""
    w, h = im.size
    px = im.load()
    raw = b"".join(b"\0" + b"".join(struct.pack(">HHH", *(v * 257 for v in px[x, y])) for x in range(w)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(file, "wb").write(data)


def boxes(b, start, end):
    out = []
    while start < end:
        size, kind = struct.unpack(">I4s", b[start : start + 8])
        out.append((kind, start, size))
        start += size
    return out


def add_transform(heic, box):
    """Insert an irot or imir property for the primary item; shift file offsets in iloc accordingly."""
    b = bytearray(heic)
    top = boxes(b, 0, len(b))
    meta = next(x for x in top if x[0] == b"meta")
    kids = boxes(b, meta[1] + 12, meta[1] + meta[2])
    pitm = next(x for x in kids if x[0] == b"pitm")
    primary = struct.unpack(">H", b[pitm[1] + 12 : pitm[1] + 14])[0]
    iprp = next(x for x in kids if x[0] == b"iprp")
    ipco, ipma = boxes(b, iprp[1] + 8, iprp[1] + iprp[2])[:2]
    index = len(boxes(b, ipco[1] + 8, ipco[1] + ipco[2])) + 1
    # ipma (version 0, flags 0: 1-byte associations): entry count, then item id, count, associations.
    p = ipma[1] + 12
    count = struct.unpack(">I", b[p : p + 4])[0]
    p += 4
    insert_at = None
    for _ in range(count):
        item, n = struct.unpack(">HB", b[p : p + 3])
        if item == primary:
            b[p + 2] = n + 1
            insert_at = p + 3 + n
        p += 3 + n
    grow = len(box) + 1
    b[insert_at:insert_at] = bytes([0x80 | index])
    end_ipco = ipco[1] + ipco[2]
    b[end_ipco:end_ipco] = box
    for start in (ipma[1] + len(box), ipco[1], iprp[1], meta[1]):
        size = struct.unpack(">I", b[start : start + 4])[0]
        own = len(box) if start == ipco[1] else (1 if start == ipma[1] + len(box) else grow)
        b[start : start + 4] = struct.pack(">I", size + own)
    # iloc: items stored in the file (construction method 0) move by `grow` bytes when mdat follows meta.
    iloc = next(x for x in boxes(b, meta[1] + 12, meta[1] + meta[2] + grow) if x[0] == b"iloc")
    p = iloc[1] + 8
    version = b[p]
    p += 4
    off_size, len_size = b[p] >> 4, b[p] & 15
    base_size, idx_size = b[p + 1] >> 4, (b[p + 1] & 15 if version in (1, 2) else 0)
    p += 2
    items = struct.unpack(">H", b[p : p + 2])[0] if version < 2 else struct.unpack(">I", b[p : p + 4])[0]
    p += 2 if version < 2 else 4

    def field(pos, size):
        return int.from_bytes(b[pos : pos + size], "big") if size else 0

    for _ in range(items):
        p += 2 if version < 2 else 4
        method = 0
        if version in (1, 2):
            method = field(p, 2) & 15
            p += 2
        p += 2
        base_pos = p
        p += base_size
        extents = field(p, 2)
        p += 2
        if method == 0 and base_size:
            b[base_pos : base_pos + base_size] = (field(base_pos, base_size) + grow).to_bytes(base_size, "big")
        for _ in range(extents):
            p += idx_size
            if method == 0 and off_size and not base_size:
                b[p : p + off_size] = (field(p, off_size) + grow).to_bytes(off_size, "big")
            p += off_size + len_size
    return bytes(b)


def heic_reference(name):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "decoded.png")
        subprocess.run(["heif-convert", path(name), out], check=True, capture_output=True)
        # A collection is written as decoded-1.png, decoded-2.png, ...: the first is the reference.
        first = out if os.path.exists(out) else os.path.join(tmp, "decoded-1.png")
        return Image.open(first).convert("RGB")


def make_heics():
    with tempfile.TemporaryDirectory() as tmp:
        cat = src("chelsea.png").convert("RGB").resize((120, 80), Image.LANCZOS)
        cat_png = os.path.join(tmp, "cat.png")
        cat.info.pop("icc_profile", None)  # heif-convert cannot write the package's (incorrect) sRGB profile back
        cat.save(cat_png)
        subprocess.run(["heif-enc", "-q", "85", "-o", path("heic_8bit.heic"), cat_png], check=True, capture_output=True)
        add("heic_8bit.heic", "HEIC 8-bit 120x80 (heif-enc, x265)", "chelsea.png", "heif-convert")
        coffee = src("coffee.png").convert("RGB").resize((96, 64), Image.LANCZOS)
        coffee16 = os.path.join(tmp, "coffee16.png")
        png16(coffee, coffee16)
        subprocess.run(["heif-enc", "-b", "10", "-q", "85", "-o", path("heic_10bit.heic"), coffee16], check=True, capture_output=True)
        add("heic_10bit.heic", "HEIC 10-bit 96x64 from a 16-bit PNG", "coffee.png", "heif-convert")
        coffee8 = os.path.join(tmp, "coffee8.png")
        coffee.save(coffee8)
        subprocess.run(["heif-enc", "-q", "85", "-o", path("heic_collection.heic"), cat_png, coffee8], check=True, capture_output=True)
        add("heic_collection.heic", "HEIC collection of two images (120x80 cat, then 96x64 coffee): the first is used", "chelsea.png, coffee.png", "heif-convert")
        base = open(path("heic_8bit.heic"), "rb").read()
        write("heic_irot90.heic", add_transform(base, struct.pack(">I4sB", 9, b"irot", 1)))
        add("heic_irot90.heic", "HEIC with irot 1 (90 degrees anti-clockwise)", "chelsea.png", "heif-convert")
        write("heic_imir.heic", add_transform(base, struct.pack(">I4sB", 9, b"imir", 1)))
        add("heic_imir.heic", "HEIC with imir 1 (mirrored left-right)", "chelsea.png", "heif-convert")


make_gifs()
make_bmps()
make_icos()
make_jpegs()
make_heics()

for entry in manifest:
    name = entry["file"]
    if entry["reference"] == "heif-convert":
        ref = heic_reference(name)
    else:
        ref = ImageOps.exif_transpose(Image.open(path(name))).convert("RGB")
    ref.save(os.path.join(REFS, name + ".png"))
    entry["size"] = list(ref.size)

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"pillow": PIL.__version__, "images": manifest}, f, indent=1)
    f.write("\n")
print(f"{len(manifest)} images with references, Pillow {PIL.__version__}")
