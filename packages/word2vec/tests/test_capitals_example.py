from pmt.word2vec.examples import capitals


def test_capitals_example_writes_the_plot_and_separates_capitals_from_countries(tmp_path, capsys):
    out = tmp_path / "capitals.png"
    assert capitals.main(["--out", str(out), "--epochs", "3"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "cosine with berlin" in capsys.readouterr().out
    kv = capitals.train(epochs=3)
    assert kv.dim == 2
    # Capitals resemble each other more than a capital resembles a country.
    assert kv.similarity("paris", "berlin") > kv.similarity("paris", "germany")
