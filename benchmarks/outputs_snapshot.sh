#!/bin/bash
# Every output of convert (1 and 2 processes, plain and gzip input), validate and prepare (from canonical
# and from raw records, 1 and 2 processes) on every published file in ../shared/data, with exit codes.
# A refactor that must not change behaviour is checked by two snapshots and a byte comparison:
#   benchmarks/outputs_snapshot.sh OLD_CHECKOUT/.venv /tmp/snap; mv /tmp/snap /tmp/before
#   benchmarks/outputs_snapshot.sh .venv /tmp/snap; mv /tmp/snap /tmp/after
#   diff -r /tmp/before /tmp/after
# (the same OUTDIR both times: reports record their own paths.)
# usage: outputs_snapshot.sh VENV OUTDIR
VENV=$1; OUT=$2; rm -rf $OUT; mkdir -p $OUT; . $VENV/bin/activate
i=0
for f in $(find ${SHARED_DATA:-$(cd "$(dirname "$0")/../../shared/data" && pwd)} -type f \( -name '*.jsonl' -o -name '*.json' \) | sort); do
  i=$((i+1)); n=$(printf %02d $i)
  fcdata convert $f -o $OUT/$n.c.jsonl --report $OUT/$n.c.report.json --rejects $OUT/$n.c.rej.jsonl >/dev/null 2>&1; echo "$n convert $? $f" >> $OUT/codes.txt
  fcdata convert $f -o $OUT/$n.c2.jsonl --num-proc 2 >/dev/null 2>&1
  gzip -n -c $f > $OUT/$n.in.gz; fcdata convert $OUT/$n.in.gz -o $OUT/$n.cgz.jsonl >/dev/null 2>&1; rm $OUT/$n.in.gz
  if [ -s $OUT/$n.c.jsonl ]; then
    fcdata validate $OUT/$n.c.jsonl --report $OUT/$n.v.report.json --rejects $OUT/$n.v.rej.jsonl >/dev/null 2>&1; echo "$n validate $?" >> $OUT/codes.txt
    fcdata prepare $OUT/$n.c.jsonl -o $OUT/$n.p.parquet --report $OUT/$n.p.report.json >/dev/null 2>&1; echo "$n prepare $?" >> $OUT/codes.txt
    fcdata prepare $f -o $OUT/$n.praw --num-proc 2 --report $OUT/$n.praw.report.json --rejects $OUT/$n.praw.rej.jsonl >/dev/null 2>&1; echo "$n prepare-raw $?" >> $OUT/codes.txt
  fi
done
