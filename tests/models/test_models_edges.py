"""The rankers at their edges: options, defaults and paths the formula tests do not reach."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from numpy_reference import randomize_encoder

from kdlib.models import build, load


def _ids(params) -> set[int]:
    return {id(p) for p in params}


@pytest.mark.parametrize("train_embeddings", [False, True])
def test_tk_parameter_groups_put_kernels_and_mixer_apart(train_embeddings):
    tk = build("tk", "tiny-random", dropout=0.0, train_embeddings=train_embeddings)
    groups = tk.parameter_groups(1.0, tk_learning_rate=2e-5, tk_kernel_learning_rate=1e-4)
    assert [(g["name"], g["lr"]) for g in groups] == [("tk", 2e-5), ("tk_kernels", 1e-4)]
    assert _ids(groups[1]["params"]) == {id(tk.kernel_weights.weight), id(tk.mixer)}
    rest = {id(p) for name, p in tk.named_parameters()
            if name not in ("kernel_weights.weight", "mixer") and (train_embeddings or name != "embeddings.weight")}
    assert _ids(groups[0]["params"]) == rest


@pytest.mark.parametrize("dropout", [None, 0.0, 0.3])
def test_tk_keeps_its_dropout_through_save_and_load(tmp_path, dropout):
    tk = build("tk", "tiny-random", dropout=dropout)
    tk.save_pretrained(tmp_path / "tk")
    expected = 0.1 if dropout is None else dropout  # TK's default
    for ranker in (tk, load(tmp_path / "tk")):
        rates = {m.p for m in ranker.modules() if isinstance(m, torch.nn.Dropout)}
        assert rates == {expected}


CACHED = ["bert_dot", "colbert", "prett", "tk"]


def contrasted(arch: str, **options):
    """A tiny ranker whose encoder weights make every token count (see numpy_reference.randomize_encoder)."""
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.0, **options)
    if hasattr(ranker, "encoder"):
        randomize_encoder(ranker.encoder)
    return ranker
LONG_QUERY = "how long does the life cycle of a cat flea take from egg to larva to pupa to adult " * 3
PASSAGES = ["Fleas are small wingless insects.", "The life cycle of a flea has four stages.", "Cats."]


@pytest.mark.parametrize("arch", CACHED)
def test_cached_scoring_truncates_the_query_like_direct_scoring(arch):
    ranker = contrasted(arch)
    cache = ranker.encode_passages(PASSAGES)
    direct = ranker.score([LONG_QUERY] * len(PASSAGES), PASSAGES)
    torch.testing.assert_close(ranker.score_cached(LONG_QUERY, cache), direct, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", CACHED)
def test_no_passages_give_an_empty_cache_that_scores_nothing(arch):
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.0)
    cache = ranker.encode_passages([])
    assert len(cache) == 0
    if arch != "bert_dot":  # token-level caches: (0, 1, dim) states and a (0, 1) long mask
        states = cache.states if arch == "prett" else cache.vectors
        assert states.shape == (0, 1, ranker.hidden_size if arch == "prett" else states.shape[-1])
        assert cache.mask.shape == (0, 1) and cache.mask.dtype == torch.long
    else:
        assert cache.shape == (0, ranker.hidden_size)
    scores = ranker.score_cached("a flea", cache)
    assert scores.shape == (0,) and scores.dtype == torch.float32


def test_colbert_option_bounds():
    assert build("colbert", "tiny-random", compression_dim=1).compressor.out_features == 1
    for bad in ({"compression_dim": 0}, {"query_augmentation": -1}):
        with pytest.raises(ValueError):
            build("colbert", "tiny-random", **bad)


def test_prett_needs_room_for_both_texts_in_the_positions():
    # tiny-random has 512 positions: [CLS] q [SEP] p [SEP] must fit.
    assert build("prett", "tiny-random", query_max_len=9, passage_max_len=500).passage_offset == 11
    with pytest.raises(ValueError, match="exceeds"):
        build("prett", "tiny-random", query_max_len=10, passage_max_len=500)


def test_bert_dot_query_and_passage_vectors_give_the_scores():
    ranker = contrasted("bert_dot")
    queries = ["a flea", "cat fleas bite"]
    matrix = ranker.encode_queries(queries) @ ranker.encode_passages(PASSAGES).T
    for i, query in enumerate(queries):
        torch.testing.assert_close(matrix[i], ranker.score([query] * len(PASSAGES), PASSAGES), atol=1e-5, rtol=1e-5)
    assert ranker.encode_queries([]).shape == (0, ranker.hidden_size)


def test_encoder_with_a_single_segment_embedding(tmp_path):
    # RoBERTa-like encoders have one token type: the pair rankers must not ask for segment 1.
    from transformers import AutoTokenizer, BertConfig, BertModel

    from kdlib.models import resolve_encoder

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("tiny-random"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, type_vocab_size=1)
    BertModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    for arch in ("bert_cat", "prett"):
        ranker = build(arch, tmp_path, query_max_len=6, passage_max_len=10)
        assert not ranker.uses_token_types
        assert torch.isfinite(ranker.score(["a flea"], PASSAGES[:1])).all()


def test_load_encoder_sets_dropout_attention_and_drops_the_pooler():
    from kdlib.models.encoders import load_encoder

    model, _ = load_encoder("tiny-random", num_layers=1, dropout=0.25, attn_implementation="eager")
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.25
    assert model.config._attn_implementation == "eager" and model.config.num_hidden_layers == 1
    assert getattr(model, "pooler", None) is None
    with pytest.raises(ValueError, match="num_layers"):
        load_encoder("tiny-random", num_layers=0)


@pytest.mark.filterwarnings("ignore:Cannot enable progress bars")  # conftest disables hub progress bars
def test_quiet_transformers_restores_the_logging_state():
    from transformers.utils import logging as hf_logging

    from kdlib.models.encoders import quiet_transformers

    previous = hf_logging.get_verbosity()
    try:
        hf_logging.set_verbosity_info()
        hf_logging.enable_progress_bar()
        with quiet_transformers():
            assert hf_logging.get_verbosity() == hf_logging.ERROR and not hf_logging.is_progress_bar_enabled()
        assert hf_logging.get_verbosity() == hf_logging.INFO and hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        with quiet_transformers():
            pass
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity(previous)


def test_tiny_random_encoder_is_created_once_and_deterministically(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from kdlib.models.encoders import cache_dir, resolve_encoder

    shared = Path(resolve_encoder("tiny-random"))
    monkeypatch.setenv("KDLIB_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    fresh = Path(resolve_encoder("tiny-random"))
    assert fresh == tmp_path / "encoders" / "tiny-random"
    config = json.loads((fresh / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"],
            config["intermediate_size"]) == (2, 32, 2, 64)
    a, b = load_file(str(fresh / "model.safetensors")), load_file(str(shared / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # same seed, same weights
    assert (fresh / "tokenizer_config.json").is_file() and not list(fresh.parent.glob(".tiny-random-*"))
    monkeypatch.delenv("KDLIB_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "kdlib"


def test_inference_context_restores_training_mode():
    ranker = build("bert_dot", "tiny-random", dropout=0.0)
    ranker.train()
    with ranker.inference():
        assert not ranker.training and not torch.is_grad_enabled()
    assert ranker.training
    ranker.eval()
    with ranker.inference():
        pass
    assert not ranker.training


def test_from_pretrained_checks_the_class_and_repr_names_the_ranker(tmp_path):
    from kdlib.models import BertCat, BertDot, Ranker

    ranker = build("bert_cat", "tiny-random", dropout=0.0)
    ranker.save_pretrained(tmp_path / "cat")
    assert isinstance(Ranker.from_pretrained(tmp_path / "cat"), BertCat)
    with pytest.raises(ValueError, match="bert_cat ranker, not bert_dot"):
        BertDot.from_pretrained(tmp_path / "cat")
    assert "arch=bert_cat, encoder='tiny-random', options={}" in repr(ranker)


def test_ranker_config_round_trip_ignores_unknown_keys():
    from kdlib.models import RankerConfig

    config = RankerConfig("colbert", "tiny-random", num_layers=1, query_max_len=5, passage_max_len=7, dropout=0.1,
                          options={"query_augmentation": 2})
    data = config.to_dict()
    assert data["format"] == "kdlib-ranker" and data["version"] == 1
    assert RankerConfig.from_dict({**data, "future_field": 3}) == config


def test_pad_helpers():
    from kdlib.models.base import pad_cache_rows, pad_sequences

    ids, mask = pad_sequences([[5, 6, 7], [8]], pad_id=9)
    assert ids.tolist() == [[5, 6, 7], [8, 9, 9]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_sequences([], pad_id=9)
    assert ids.shape == mask.shape == (0, 1)
    rows = pad_cache_rows([torch.ones(1, 2, 3), torch.ones(2, 1, 3)], value=-1.0)
    assert rows.shape == (3, 2, 3) and rows[1:, 1].eq(-1).all() and rows[:, 0].eq(1).all()


def test_head_weights_must_match_exactly(tmp_path):
    from safetensors.torch import load_file, save_file

    ranker = build("bert_cat", "tiny-random", dropout=0.0)
    ranker.save_pretrained(tmp_path / "cat")
    head = load_file(str(tmp_path / "cat" / "ranker_head.safetensors"))
    save_file({**head, "extra.weight": torch.zeros(1)}, str(tmp_path / "cat" / "ranker_head.safetensors"))
    with pytest.raises(ValueError, match="expected head weights"):
        load(tmp_path / "cat")


@pytest.mark.parametrize(("dim", "heads"), [(320, 10), (160, 10), (384, 8), (96, 6), (80, 4), (48, 2), (30, 1), (17, 1)])
def test_tk_default_heads_are_the_most_with_at_least_16_dimensions_each(dim, heads):
    from kdlib.models.tk import _default_heads

    assert _default_heads(dim) == heads


def test_tk_position_table_is_vaswanis_sinusoids():
    import numpy as np

    from kdlib.models.tk import _sinusoids

    length, dim = 7, 6
    expected = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            expected[pos, i] = np.sin(pos / 10000 ** (i / dim))
            expected[pos, i + 1] = np.cos(pos / 10000 ** (i / dim))
    np.testing.assert_allclose(_sinusoids(length, dim).numpy(), expected, atol=1e-6)


def test_tk_construction_defaults():
    from kdlib.models.tk import TK

    tk = build("tk", "tiny-random", dropout=0.0)
    dim = tk.embeddings.embedding_dim
    assert tk.mixer.item() == 0.5  # raw embeddings and context mixed half and half at the start
    weights = tk.kernel_weights.weight
    assert weights.shape == (1, 11) and tk.kernel_weights.bias is None
    assert weights.abs().max() <= 0.014 and weights.min() < 0 < weights.max()  # U(-0.014, 0.014)
    assert tk.contextualizer.layers[0].linear1.out_features == dim  # feed-forward as wide as the embeddings
    assert build("tk", "tiny-random", ff_dim=48).contextualizer.layers[0].linear1.out_features == 48
    assert tk.contextualizer.enable_nested_tensor is False
    assert "positions" not in tk.state_dict()  # a fixed table, not saved
    direct = TK(tk.config, torch.zeros(5, dim), tk.tokenizer)
    assert {m.p for m in direct.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    assert direct.embeddings.padding_idx == tk.tokenizer.pad_token_id


@pytest.mark.parametrize("arch", ["colbert", "prett", "tk"])
def test_passage_cache_masks_mark_exactly_the_real_tokens(arch):
    # Encoded one passage per chunk, rows are padded to the longest: the padding must stay masked.
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.0)
    cache = ranker.encode_passages(PASSAGES, batch_size=1)
    lengths = [ranker.tokenize(["q"], [p])["passage_attention_mask"].sum().item() for p in PASSAGES]
    assert cache.mask.sum(1).tolist() == lengths and cache.mask.shape[1] == max(lengths)


def test_prett_splits_half_the_layers_by_default():
    assert build("prett", "tiny-random").split_layer == 1  # of 2


def test_prett_without_split_caches_token_ids_and_scores_like_direct():
    # split_layer 0: nothing runs before the join, so the cache holds padded ids, not states.
    ranker = contrasted("prett", split_layer=0)
    cache = ranker.encode_passages(PASSAGES, batch_size=1)
    assert cache.states.dtype == torch.long
    direct = ranker.score(["a flea"] * len(PASSAGES), PASSAGES)
    torch.testing.assert_close(ranker.score_cached("a flea", cache), direct, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ["bert_cat", "colbert"])
def test_load_honours_the_attention_implementation(tmp_path, arch):
    build(arch, "tiny-random", dropout=0.0).save_pretrained(tmp_path / arch)
    for impl in ("eager", "sdpa"):
        assert load(tmp_path / arch, attn_implementation=impl).encoder.config._attn_implementation == impl


def test_save_layout_details_and_no_leftovers(tmp_path):
    from safetensors import safe_open

    from kdlib.models import BertCat

    ranker = build("bert_cat", "tiny-random", dropout=0.0)
    target = tmp_path / "runs" / "deep" / "cat"  # parent folders are created
    ranker.save_pretrained(target)
    ranker.save_pretrained(target)  # replaces the old save through a backup that is then removed
    assert [p.name for p in target.parent.iterdir()] == ["cat"]
    with safe_open(str(target / "ranker_head.safetensors"), framework="pt") as handle:
        assert handle.metadata() == {"arch": "bert_cat"}
    text = (target / "kdlib_ranker.json").read_text()
    assert text.endswith("}\n") and text.splitlines()[1].startswith('  "')  # indented JSON, one final newline
    assert BertCat.from_pretrained(target, attn_implementation="eager").encoder.config._attn_implementation == "eager"
    (group,) = ranker.parameter_groups(1e-5, tk_learning_rate=1e-5, tk_kernel_learning_rate=1e-4)
    assert group["name"] == "all"


def test_set_attention_switches_the_encoder_and_leaves_tk_alone():
    from kdlib.models import set_attention

    ranker = build("colbert", "tiny-random", dropout=0.0)
    for impl in ("eager", "sdpa"):
        assert set_attention(ranker, impl) is ranker and ranker.encoder.config._attn_implementation == impl
    tk = build("tk", "tiny-random", dropout=0.0)
    assert set_attention(tk, "eager") is tk


def _authors_bert_cat(directory, reference, *, layers: int, with_tokenizer: bool, weights_file: str) -> None:
    """The authors' BERT_Cat layout: encoder under bert_model., head _classification_layer.,
    an old position_ids buffer, no pooler, only the first ``layers`` layers stored."""
    from safetensors.torch import save_file

    from kdlib.models import resolve_encoder

    state = {f"bert_model.{k}": v.clone() for k, v in reference.encoder.state_dict().items()
             if not any(k.startswith(f"encoder.layer.{i}.") for i in range(layers, 12))}
    state["bert_model.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    state["_classification_layer.weight"] = reference.classification_layer.weight.detach().clone()
    state["_classification_layer.bias"] = reference.classification_layer.bias.detach().clone()
    if weights_file.endswith(".safetensors"):
        save_file(state, str(directory / weights_file))
    else:
        torch.save(state, directory / weights_file)
    (directory / "config.json").write_text(json.dumps({"bert_model": resolve_encoder("tiny-random")}))
    if with_tokenizer:
        reference.tokenizer.save_pretrained(directory)


@pytest.mark.parametrize(("weights_file", "with_tokenizer"), [("model.safetensors", True), ("pytorch_model.bin", False)])
def test_authors_bert_cat_checkpoint_with_fewer_layers(tmp_path, weights_file, with_tokenizer):
    torch.manual_seed(3)
    reference = build("bert_cat", "tiny-random", num_layers=1, dropout=0.0)
    randomize_encoder(reference.encoder)
    _authors_bert_cat(tmp_path, reference, layers=1, with_tokenizer=with_tokenizer, weights_file=weights_file)
    loaded = load(tmp_path, attn_implementation="eager")
    assert (loaded.config.arch, loaded.config.num_layers, loaded.config.options) == ("bert_cat", 1, {})
    assert loaded.config.encoder.endswith("tiny-random")
    assert loaded.encoder.config.num_hidden_layers == 1 and loaded.encoder.config._attn_implementation == "eager"
    queries, passages = ["a flea"] * 2, PASSAGES[:2]
    torch.testing.assert_close(loaded.score(queries, passages), reference.score(queries, passages))
    loaded.save_pretrained(tmp_path / "again")  # and it saves in kdlib's own layout
    assert load(tmp_path / "again").config.num_layers == 1


def test_authors_bert_cat_checkpoint_must_be_complete(tmp_path):
    from kdlib.core.errors import FormatError

    torch.manual_seed(3)
    reference = build("bert_cat", "tiny-random", dropout=0.0)
    _authors_bert_cat(tmp_path, reference, layers=2, with_tokenizer=False, weights_file="model.safetensors")
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "model.safetensors"))
    broken = {k: v for k, v in state.items() if "encoder.layer.0.output.dense" not in k}
    save_file(broken, str(tmp_path / "model.safetensors"))
    with pytest.raises(FormatError, match="missing"):
        load(tmp_path)
    save_file({k: v for k, v in state.items() if k != "_classification_layer.bias"}, str(tmp_path / "model.safetensors"))
    with pytest.raises(FormatError, match="_classification_layer"):
        load(tmp_path)


def test_build_records_its_settings_and_checks_lengths():
    ranker = build("bert_dot", "tiny-random", num_layers=1, dropout=0.2, attn_implementation="eager")
    assert (ranker.config.query_max_len, ranker.config.passage_max_len) == (30, 200)  # the paper's
    assert (ranker.config.num_layers, ranker.config.dropout) == (1, 0.2)
    assert ranker.encoder.config.hidden_dropout_prob == 0.2 and ranker.encoder.config._attn_implementation == "eager"
    assert build("bert_dot", "tiny-random", query_max_len=1, passage_max_len=1).config.query_max_len == 1
    for q, p in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match="positive"):
            build("bert_dot", "tiny-random", query_max_len=q, passage_max_len=p)


def test_load_plain_encoder_options_and_layout_detection(tmp_path):
    from kdlib.core.errors import FormatError

    reference = build("bert_dot", "tiny-random")
    reference.encoder.save_pretrained(tmp_path / "plain")
    reference.tokenizer.save_pretrained(tmp_path / "plain")
    colbert = load(tmp_path / "plain", arch="colbert", dropout=0.3, attn_implementation="eager")
    assert colbert.arch == "colbert" and colbert.encoder.config.hidden_dropout_prob == 0.3
    assert colbert.encoder.config._attn_implementation == "eager"
    with pytest.raises(ValueError, match="plain encoder"):
        load(tmp_path / "plain", arch="tk")
    (tmp_path / "typed").mkdir()
    (tmp_path / "typed" / "config.json").write_text('{"model_type": "BERT_Cat"}')  # detected by its type alone
    with pytest.raises(FormatError, match="checkpoint's weights"):  # a BERT_Cat layout, refused without weights
        load(tmp_path / "typed")
    torch.manual_seed(3)
    cat = build("bert_cat", "tiny-random", dropout=0.0)
    (tmp_path / "authors").mkdir()
    _authors_bert_cat(tmp_path / "authors", cat, layers=2, with_tokenizer=False, weights_file="model.safetensors")
    assert load(tmp_path / "authors", arch="bert_cat").arch == "bert_cat"
    with pytest.raises(ValueError, match="loads as bert_cat"):
        load(tmp_path / "authors", arch="colbert")
