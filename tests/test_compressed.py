"""Compressed input files (llmclf.compressed): read through, and every file handle closed after."""

import gc
import gzip
import warnings

from llmclf.datafiles import iter_labelled, iter_texts


def test_reading_a_compressed_file_leaves_no_file_open(tmp_path):
    """The decompressors leave the file they were given open: every read of a .gz file leaked a handle."""
    texts, data = tmp_path / "texts.txt.gz", tmp_path / "data.csv.gz"
    texts.write_bytes(gzip.compress(b"woof\nmeow\n"))
    data.write_bytes(gzip.compress(b"text,label\nwoof,dog\n"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert list(iter_texts(texts)) == ["woof", "meow"]
        assert list(iter_labelled(data)) == [("woof", "dog")]
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
