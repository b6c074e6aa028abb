"""Chooses answerability thresholds for one embedding model from `bellhop eval --answers
--json` output on a tuning split: every combination on a grid, scored by abstentions on
unanswerable questions minus three times the wrong abstentions on answerable ones (a wrong
"I don't know" costs a guest less than a wrong fact, but abstaining on everything must not
win). English questions only: other languages are judged on meaning alone.

    python3 bench/answers/calibrate.py tune.json
"""

import itertools
import json
import sys


def abstains(features, t):
    dense = features["dense_score"] or 0.0
    if dense < t["min_dense"]:
        return True
    if dense >= t["confident_dense"]:
        return False
    unknown = features["unknown_terms"]
    kept = features["meaning_kept"]
    if unknown and (kept is None or kept < t["min_meaning_kept"]):
        return True
    return features["term_coverage"] < t["min_term_coverage"]


def main(path):
    questions = [q for q in json.load(open(path))["questions"] if q["lang"] == "en"]
    grid = {
        "min_dense": [0.25, 0.3, 0.35, 0.4],
        "confident_dense": [0.5, 0.55, 0.6, 0.65, 0.7, 1.1],
        "min_term_coverage": [0.0, 0.34, 0.5, 0.67],
        "min_meaning_kept": [0.7, 0.75, 0.8, 0.85, 0.9, 1.1],
    }
    results = []
    for values in itertools.product(*grid.values()):
        t = dict(zip(grid, values))
        answerable = [q for q in questions if q["answerable"]]
        unanswerable = [q for q in questions if not q["answerable"]]
        wrong = sum(abstains(q["answerability"], t) for q in answerable)
        right = sum(abstains(q["answerability"], t) for q in unanswerable)
        score = right / len(unanswerable) - 3 * wrong / len(answerable)
        results.append((score, right, len(unanswerable), wrong, len(answerable), t))
    results.sort(key=lambda r: -r[0])
    for score, right, unanswerable, wrong, answerable, t in results[:10]:
        print(f"{score:+.3f} abstained {right}/{unanswerable} wrong {wrong}/{answerable} {t}")


if __name__ == "__main__":
    main(sys.argv[1])
