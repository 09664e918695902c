#!/usr/bin/env bash
# Incremental builds, measured in one run:
#  1. `build-all --skip-unchanged` on the unchanged example catalog (8 image-versions) against the
#     same `build-all` whose builds are all docker cache hits (goal: at least 10x faster), by
#     medians: `--skip-unchanged` asks Docker Hub about the example's local-only base image,
#     and this offline machine's resolver now and then takes 5 s to say it cannot (the means
#     and slowest runs are printed too);
#  2. the time to digest a build context of 10,000 files / 500 MB (`status` of that image), from
#     the page cache and, where the kernel lets us drop it, from disk.
source "$(dirname "$0")/prelude.sh"
cp -r examples/images "$work/images"
"$tool" --images-dir "$work/images" build-all -t bench-base >/dev/null 2>&1

hyperfine --warmup 2 --min-runs 30 --export-json "$work/skip.json" \
    "$tool --images-dir $work/images build-all --skip-unchanged" \
    "$tool --images-dir $work/images build-all -t bench-cached"

big=$work/images/big
mkdir -p "$big/files"
printf '3.10: {}\n' >"$big/versions.yaml"
printf 'FROM dagster-image/rootfs:busybox\nCOPY files /files\n' >"$big/Dockerfile"
python3 - "$big/files" <<'PY'
import os, sys
root = sys.argv[1]
block = os.urandom(50 * 1024)
for i in range(10_000):
    folder = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"f{i:05d}.bin"), "wb") as f:
        f.write(block[i % 1024:] + block[:i % 1024])
PY
du -sh "$big/files"
hyperfine --warmup 1 --runs 5 --export-json "$work/digest.json" \
    "$tool --images-dir $work/images status --name big"
cold=""
if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
    start=$EPOCHREALTIME
    "$tool" --images-dir "$work/images" status --name big >/dev/null
    cold=$(python3 -c "print(f'{($EPOCHREALTIME - $start) * 1000:.0f}')")
fi

python3 - "$work" "$cold" <<'PY'
import json, sys
work, cold = sys.argv[1], sys.argv[2]
runs = json.load(open(f"{work}/skip.json"))["results"]
skip, cached = [r["median"] * 1000 for r in runs]
(skip_mean, skip_max), (cached_mean, cached_max) = [(r["mean"] * 1000, r["max"] * 1000) for r in runs]
(digest,) = [r["mean"] * 1000 for r in json.load(open(f"{work}/digest.json"))["results"]]
print(f"\nno change, 8 image-versions, medians: --skip-unchanged {skip:.0f} ms vs cache-hit builds "
      f"{cached:.0f} ms: {cached / skip:.1f}x faster (goal >= 10x); means {skip_mean:.0f} ms vs "
      f"{cached_mean:.0f} ms, slowest {skip_max:.0f} ms vs {cached_max:.0f} ms")
print(f"digest of a 10,000-file / 500 MB context (status --name big): {digest:.0f} ms from the page cache"
      + (f", {cold} ms from disk" if cold else ""))
PY
