# Regenerates the embedded text-front-end data of src/tts/text.rs from jieba 0.42.1 and pypinyin 0.53.0.
# Usage: python -m venv V && V/bin/pip install jieba==0.42.1 pypinyin==0.53.0 && V/bin/python gen.py OUTDIR
# Prints the ASCII part of jieba's FREQ (text.rs JIEBA_ASCII_FREQ) and total (JIEBA_TOTAL).
import re, gzip, json, sys, os
import jieba
from jieba import finalseg
from pypinyin.constants import PINYIN_DICT, PHRASES_DICT
from pypinyin.contrib.tone_convert import tone_to_tone2, tone2_to_tone
from pypinyin.style import convert as convert_style
from pypinyin import Style
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
# --- jieba dict: parsed (word, freq) in file order, exactly as gen_pfdict parses
dpath = os.path.join(os.path.dirname(jieba.__file__), 'dict.txt')
lines = []
total = 0
with open(dpath, 'rb') as f:
    for line in f:
        line = line.strip().decode('utf-8')
        word, freq = line.split(' ')[:2]
        freq = int(freq)
        assert ' ' not in word and '\n' not in word and word
        lines.append(f"{word} {freq}\n")
        total += freq
jieba.initialize()
T = jieba.dt
assert T.total == total, (T.total, total)
with gzip.GzipFile(os.path.join(out, 'jieba_dict.txt.gz'), 'wb', compresslevel=9, mtime=0) as g:
    g.write(''.join(lines).encode())
asc = sorted((k, v) for k, v in T.FREQ.items() if all(ord(c) < 128 for c in k))
print('total', total, 'ascii keys', asc)
# --- HMM
hl = []
for s in 'BMES':
    hl.append(f"start {s} {finalseg.start_P[s]!r}\n")
for s in 'BMES':
    for t, v in finalseg.trans_P[s].items():
        hl.append(f"trans {s} {t} {v!r}\n")
for s in 'BMES':
    for c, v in finalseg.emit_P[s].items():
        assert len(c) == 1
        hl.append(f"emit {s} {ord(c):x} {v!r}\n")
with gzip.GzipFile(os.path.join(out, 'jieba_hmm.txt.gz'), 'wb', compresslevel=9, mtime=0) as g:
    g.write(''.join(hl).encode())
# --- pypinyin
pl = []
firsts = set()
for cp in sorted(PINYIN_DICT):
    first = PINYIN_DICT[cp].split(',')[0]
    assert ' ' not in first and '\t' not in first and '\n' not in first
    pl.append(f"c {cp:x} {first}\n"); firsts.add(first)
nbad = 0
for ph, items in PHRASES_DICT.items():
    assert len(items) == len(ph), ph
    fs = [it[0] for it in items]
    for x in fs:
        assert x and ' ' not in x and '\t' not in x
        firsts.add(x)
    pl.append(f"p {ph} {' '.join(fs)}\n")
# closure for tone sandhi
_re_num = re.compile(r'\d')
dom = set(firsts); t2map = {}; tmap = {}
work = list(dom)
while work:
    s = work.pop()
    t2 = tone_to_tone2(s); t2map[s] = t2
    for v in {t2, t2.replace('3', '2'), t2.replace('4', '2'), _re_num.sub('4', t2), _re_num.sub('1', t2)}:
        if v not in tmap:
            tmap[v] = tone2_to_tone(v)
            if tmap[v] not in dom:
                dom.add(tmap[v]); work.append(tmap[v])
for s in sorted(t2map):
    pl.append(f"t2 {s} {t2map[s]}\n")
for s in sorted(tmap):
    pl.append(f"tt {s} {tmap[s]}\n")
for s in sorted(dom):
    pl.append(f"s3 {s} {convert_style(s, Style.TONE3, True, default=s, han='')}\n")
for x in list(t2map.values()) + list(tmap.values()):
    assert ' ' not in x and x
print('firsts', len(firsts), 'closure', len(dom), 'tmap', len(tmap))
with gzip.GzipFile(os.path.join(out, 'pypinyin.txt.gz'), 'wb', compresslevel=9, mtime=0) as g:
    g.write(''.join(pl).encode())
