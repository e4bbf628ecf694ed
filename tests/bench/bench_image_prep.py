"""Benchmark: prepare a ~12 MP JPEG for analysis (800 px longest edge, JPEG q80), in process.

Run: ``python tests/bench/bench_image_prep.py [--iterations N] [--photo PATH]``

Compares ``or_magic.media.image.prepare_image`` (draft decoding + reduce/resize) with a plain
Pillow baseline *without* draft (open, exif_transpose, convert RGB, resize to 800, save q80) in the
same run, and prints the per-op medians and their ratio. The reference target is sharp's 22.5 ms/op
for the same job measured on this machine class.

The input is synthesised so it is not trivially compressible: the sample photo upscaled to
4240x2832 (12.0 MP) with Gaussian per-pixel noise (``--noise``, default sigma 3) saved at quality
90 (~1.6 MB). JPEG decoding cost is dominated by entropy decoding, so it grows with the file size:
``--noise 6 --source-quality 92`` gives a ~3.1 MB file and roughly 1.6x the time, for sharp too.

``--sharp-dir DIR`` (a folder where ``npm install sharp`` was run) also times sharp on the very
same bytes from Node, one op at a time, so the comparison does not depend on which file the
reference figure was measured with.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench._common import times_ms  # noqa: E402

SHARP_MS = 22.5
SIZE = (4240, 2832)
MAX_DIM = 800
QUALITY = 80


def make_jpeg(
    photo: Path | None = None, *, noise: float = 3.0, quality: int = 90, seed: int = 1234
) -> bytes:
    """A ~12 MP noisy photographic JPEG (deterministic)."""
    import numpy as np
    from PIL import Image

    src = photo or ROOT / "tests" / "fixtures" / "photo.jpg"
    with Image.open(src) as im:
        base = im.convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    arr = np.asarray(base, dtype=np.int16)
    arr = arr + rng.normal(0, noise, arr.shape).astype(np.int16)
    noisy = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def baseline(data: bytes) -> bytes:
    """Plain Pillow, no draft: what a straightforward implementation does."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im)  # loads the full-size image
        im = im.convert("RGB")
        w, h = im.size
        r = MAX_DIM / max(w, h)
        im = im.resize((round(w * r), round(h * r)), Image.Resampling.BICUBIC)
        out = io.BytesIO()
        im.save(out, "JPEG", quality=QUALITY)
        return out.getvalue()


def ours(data: bytes) -> bytes:
    from or_magic.media.blob import Blob
    from or_magic.media.image import prepare_image

    blob = Blob("image/jpeg", data=data, name="bench.jpg")
    out = prepare_image(blob, max_dimension=MAX_DIM, quality=QUALITY)
    assert out.data is not None
    return out.data


_SHARP_JS = r"""
const sharp = require('sharp');
const buf = require('fs').readFileSync(process.argv[1]);
const n = parseInt(process.argv[2], 10);
const op = () => sharp(buf).rotate().resize(%(d)d, %(d)d, {fit: 'inside', withoutEnlargement: true})
  .jpeg({quality: %(q)d}).toBuffer();
(async () => {
  for (let i = 0; i < 3; i++) await op();
  const t = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint(); await op(); t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  console.log(JSON.stringify({times: t, version: sharp.versions.sharp}));
})();
"""


def run_sharp(sharp_dir: Path, data: bytes, iterations: int) -> tuple[list[float], str]:
    """Time sharp (Node) on the same bytes; needs ``node`` and ``npm install sharp`` in dir."""
    import json
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".jpg", delete=False) as f:
        f.write(data)
    try:
        proc = subprocess.run(
            ["node", "-e", _SHARP_JS % {"d": MAX_DIM, "q": QUALITY}, f.name, str(iterations)],
            cwd=sharp_dir,
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "NODE_PATH": str(Path(sharp_dir) / "node_modules")},
        )
    finally:
        Path(f.name).unlink(missing_ok=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["times"], out["version"]


def measure(fn, data: bytes, iterations: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn(data)
    return times_ms(lambda _i: fn(data), iterations)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", "-n", type=int, default=40)
    ap.add_argument("--photo", type=Path, default=None, help="source photo to upscale")
    ap.add_argument("--noise", type=float, default=3.0, help="noise sigma of the synthetic input")
    ap.add_argument("--source-quality", type=int, default=90, help="JPEG quality of the input")
    ap.add_argument("--sharp-dir", type=Path, default=None, help="folder with node_modules/sharp")
    args = ap.parse_args(argv)

    import PIL
    from PIL import Image, features

    data = make_jpeg(args.photo, noise=args.noise, quality=args.source_quality)
    out = Image.open(io.BytesIO(ours(data)))
    assert max(out.size) == MAX_DIM, out.size

    ours_t = measure(ours, data, args.iterations)
    base_t = measure(baseline, data, args.iterations)
    # Interleave a second round so drift (thermal, noisy neighbours) hits both equally.
    ours_t += measure(ours, data, args.iterations, warmup=0)
    base_t += measure(baseline, data, args.iterations, warmup=0)
    m_ours = statistics.median(ours_t)
    m_base = statistics.median(base_t)

    print(
        f"input: {SIZE[0]}x{SIZE[1]} JPEG ({SIZE[0] * SIZE[1] / 1e6:.1f} MP, {len(data) / 1e6:.2f} MB)"
        f" -> {out.size[0]}x{out.size[1]} q{QUALITY}"
    )
    print(
        f"Pillow {PIL.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}, "
        f"{len(ours_t)} ops each"
    )
    print(
        f"prepare_image (draft):     median {m_ours:7.2f} ms/op  (min {min(ours_t):.2f}, "
        f"p90 {statistics.quantiles(ours_t, n=10)[-1]:.2f})"
    )
    print(
        f"plain Pillow (no draft):   median {m_base:7.2f} ms/op  (min {min(base_t):.2f}, "
        f"p90 {statistics.quantiles(base_t, n=10)[-1]:.2f})"
    )
    print(f"speed-up vs plain Pillow:  {m_base / m_ours:.2f}x")
    verdict = "at/below" if m_ours <= SHARP_MS else "ABOVE"
    print(f"sharp reference figure:    {SHARP_MS:7.2f} ms/op  -> prepare_image is {verdict} it")
    if args.sharp_dir is not None:
        sharp_t, version = run_sharp(args.sharp_dir, data, 2 * args.iterations)
        m_sharp = statistics.median(sharp_t)
        print(
            f"sharp {version} (same bytes): median {m_sharp:7.2f} ms/op  (min {min(sharp_t):.2f})"
            f"  -> ratio ours/sharp {m_ours / m_sharp:.2f}"
        )
    return 0


def test_bench_image_prep_smoke() -> None:
    """Cheap pytest smoke run (correct output size); the numbers come from running the script."""
    data = make_jpeg()
    from PIL import Image

    with Image.open(io.BytesIO(ours(data))) as im:
        assert max(im.size) == MAX_DIM
    with Image.open(io.BytesIO(baseline(data))) as im:
        assert max(im.size) == MAX_DIM


if __name__ == "__main__":
    raise SystemExit(main())
