"""Precompute the one-device vs two-device comparison that notebook 08 shows in the demo profile.

    python notebooks/data/data_parallel.py          # writes notebooks/data/data_parallel.json (about a minute)

Trains the tiny CNN of `course.distributed` with `course.train.fit` from one
seed on the same batches: on one device, and on two logical CPU devices (a
fresh Python with ``COURSE_DEVICES=cpu:2``) with batch norm synchronised and
not, and records speed and agreement (`course.distributed.summarise`). The
notebook runs the same function live in the full profile.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPE = {"images": 2048, "global_batch": 64, "epochs": 3, "seed": 0}


def main() -> int:
    from course.distributed import compare_devices, summarise
    from course.runtime import provenance

    began = time.time()
    record = {"recipe": RECIPE, "runs": summarise(compare_devices(**RECIPE)),
              **provenance("python notebooks/data/data_parallel.py", began)}
    (HERE / "data_parallel.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'data_parallel.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
