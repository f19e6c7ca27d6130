"""Build ``src/boundary_nlp/resources/segmenter-dict.bin`` for the fast segmenter.

It is jieba's prefix dictionary after the shipped domain words are added, exactly as
``JiebaSegmenter`` builds it. Rebuild after changing ``resources/userdict.txt`` or jieba's
version; ``tests/test_fastseg.py`` fails when the file and jieba disagree.

    python scripts/build_segmenter_dict.py
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from boundary_nlp.fastseg import RESOURCE, encode_dictionary
from boundary_nlp.text import DEFAULT_USERDICT, jieba_tokenizer

OUT = Path(__file__).resolve().parents[1] / "src" / "boundary_nlp" / RESOURCE


def main() -> int:
    tokenizer = jieba_tokenizer(DEFAULT_USERDICT)
    source = f"jieba {metadata.version('jieba')} + boundary_nlp/resources/userdict.txt"
    data = encode_dictionary(dict(tokenizer.FREQ), tokenizer.total, source)
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data) / 1e6:.1f} MB, {len(tokenizer.FREQ)} entries): {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
