"""Models shipped fitted on train and dev, and dev still measured held out: `medcode eval codiesp --split dev`
refits usage, similar notes and the note classifier without dev and scores with the ranker fitted on train."""

from codesets.build import coded_corpus
from training.evaluate import evaluate, fitted_splits, held_out
from training.rows import read_split


def test_the_index_learns_from_train_and_dev_in_that_order(coder, settings):
    train, dev = read_split(settings, "train"), read_split(settings, "dev")
    assert coder.index.manifest["corpus"] == {"splits": ["train", "dev"], "notes": len(train) + len(dev)}
    assert [n.id for n in coded_corpus(settings)] == [n.id for n in train + dev]
    assert len(coder.index.neighbors) == len(train) + len(dev)
    only_train = settings.model_copy(update={"corpus_splits": ["train"]})
    assert [n.id for n in coded_corpus(only_train)] == [n.id for n in train]


def test_dev_is_measured_without_what_dev_taught(coder, settings):
    dev = read_split(settings, "dev")[:4]
    full = (coder.index.usage, coder.index.neighbors, coder.index.classifier, coder.resolver, coder.ranker)
    dev_codes = {c for n in read_split(settings, "dev") for c in n.codes}
    train = read_split(settings, "train")[:40]
    with held_out(coder, "dev", limit=40) as view:
        assert view is not coder and fitted_splits(view) == "train"
        assert view.index.usage.source == "CodiEsp train"
        assert len(view.index.neighbors) == 40
        assert view.index.neighbors.codes == [n.codes for n in train]
        # A code only dev's notes carry is unknown to the refitted usage.
        only_dev = dev_codes - {c for n in read_split(settings, "train") for c in n.codes}
        assert only_dev and not only_dev & set(view.index.usage.counts)
        report = evaluate(view, dev, split="dev")
        assert report.notes == 4 and 0.0 <= report.diagnoses.map <= 1.0
    # Restored: the engine itself learnt from both.
    assert (coder.index.usage, coder.index.neighbors, coder.index.classifier, coder.resolver, coder.ranker) == full
    assert fitted_splits(coder) == "train+dev"
    assert only_dev & set(coder.index.usage.counts)


def test_a_split_the_index_did_not_learn_from_is_measured_as_it_is(coder):
    with held_out(coder, None) as same:
        assert same is coder
    with held_out(coder, "test") as same:
        assert same is coder


def test_a_ranker_fitted_on_train_alone_is_measured_on_dev_rows_held_out_like_eval(coder, settings):
    from training.rows import note_rows, refitted_on

    def held_out_rows(coder, notes, parts):  # as `medcode tune` builds dev's rows
        with refitted_on(coder, parts):
            return note_rows(coder, notes)

    dev = read_split(settings, "dev")[:3]
    train = read_split(settings, "train")[:40]

    def by_code(rows):  # rows come in ranking order, which follows the ranker; compare features by code
        return {(int(n), str(c)): tuple(x) for n, c, x in zip(rows.note, rows.code, rows.x, strict=True)}

    held = held_out_rows(coder, dev, {"train": train})
    with held_out(coder, "dev", limit=40) as view:
        expected = note_rows(view, dev)
    seen = note_rows(coder, dev)  # the index's own usage, which learnt from these very notes
    assert held.keys() == expected.keys()
    assert all(by_code(held[s]) == by_code(expected[s]) for s in held)
    assert any(by_code(held[s]) != by_code(seen[s]) for s in held)
    # Nothing refitted when the fitted splits are all the index learnt from.
    same = held_out_rows(coder, dev, {"train": [], "dev": []})
    assert all(by_code(same[s]) == by_code(seen[s]) for s in seen)
