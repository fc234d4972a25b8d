"""The state_dict keys and shapes of the NER tagger, the QQP PairClassifier and the Transformer,
pinned: run folders trained before are loaded by name, so a refactoring must not rename a key."""
import numpy as np
from pmt.core import seed

from pmt.transformer.model import Transformer
from pmt.transformer.ner.model import NERTagger, TaggerConfig
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig


def _layer(prefix, d=8, ff=16, cross=False):
    keys = {f"{prefix}.self_attn.qkv_proj.weight": (d, 3 * d), f"{prefix}.self_attn.qkv_proj.bias": (3 * d,),
            f"{prefix}.self_attn.out_proj.weight": (d, d), f"{prefix}.self_attn.out_proj.bias": (d,)}
    if cross:
        keys.update({f"{prefix}.cross_attn.q_proj.weight": (d, d), f"{prefix}.cross_attn.q_proj.bias": (d,),
                     f"{prefix}.cross_attn.kv_proj.weight": (d, 2 * d), f"{prefix}.cross_attn.kv_proj.bias": (2 * d,),
                     f"{prefix}.cross_attn.out_proj.weight": (d, d), f"{prefix}.cross_attn.out_proj.bias": (d,)})
    keys.update({f"{prefix}.ff.linear1.weight": (d, ff), f"{prefix}.ff.linear1.bias": (ff,),
                 f"{prefix}.ff.linear2.weight": (ff, d), f"{prefix}.ff.linear2.bias": (d,)})
    for i in range(1, 4 if cross else 3):
        keys.update({f"{prefix}.norm{i}.gamma": (d,), f"{prefix}.norm{i}.beta": (d,)})
    return keys


def _shapes(model):
    return {k: v.shape for k, v in model.state_dict().items()}


def test_ner_tagger_keys():
    seed(0)
    cfg = TaggerConfig(n_words=50, n_chars=20, tags=["O", "B-PER", "I-PER"], d_model=8, n_heads=2, d_ff=16,
                       n_layers=1)
    expected = {"transitions": (3, 3), "start": (3,), "end": (3,), "word_emb.weight": (50, 100),
                "case_emb.weight": (8, 8), "chars.emb.weight": (20, 30), "chars.conv.weight": (90, 64),
                "chars.conv.bias": (64,), "proj.weight": (172, 8), "proj.bias": (8,),
                **_layer("encoder.layers.0"), "encoder.norm.gamma": (8,), "encoder.norm.beta": (8,),
                "out.weight": (8, 3), "out.bias": (3,)}
    assert _shapes(NERTagger(cfg)) == expected
    cfg.crf = False
    assert list(NERTagger(cfg).state_dict()) == [k for k in expected if k not in ("transitions", "start", "end")]


def test_pair_classifier_keys():
    seed(0)
    cfg = PairClassifierConfig(vocab_size=30, d_model=8, n_heads=2, d_ff=16, n_layers=1, max_len=10)
    assert _shapes(PairClassifier(cfg)) == {
        "tok_emb.weight": (30, 8), "seg_emb.weight": (2, 8), "pos.weight": (10, 8), **_layer("encoder.layers.0"),
        "encoder.norm.gamma": (8,), "encoder.norm.beta": (8,), "head.weight": (8, 2), "head.bias": (2,)}


def test_transformer_keys():
    seed(0)
    m = Transformer(11, 13, d_model=8, n_heads=2, d_ff=16, n_encoder_layers=1, n_decoder_layers=1, max_len=12)
    assert _shapes(m) == {
        "src_embed.weight": (11, 8), "tgt_embed.weight": (13, 8), **_layer("encoder.layers.0"),
        "encoder.norm.gamma": (8,), "encoder.norm.beta": (8,), **_layer("decoder.layers.0", cross=True),
        "decoder.norm.gamma": (8,), "decoder.norm.beta": (8,), "out_proj.weight": (8, 13), "out_proj.bias": (13,)}
    tied = Transformer(11, 11, d_model=8, n_heads=2, d_ff=16, n_encoder_layers=1, n_decoder_layers=1, max_len=12,
                       share_embeddings=True, tie_output=True, positional="learned", norm_first=False)
    assert list(_shapes(tied)) == ["src_embed.weight", "src_pos.weight", "tgt_pos.weight",
                                   *_layer("encoder.layers.0"), *_layer("decoder.layers.0", cross=True)]


def test_initial_distributions_are_unchanged():
    """Embeddings N(0, std^2) with each model's std, projections Xavier-uniform with zero bias."""
    seed(0)
    m = Transformer(3000, 3000, d_model=64, n_heads=2, d_ff=128, n_encoder_layers=1, n_decoder_layers=1)
    assert abs(m.src_embed.weight.data.std() * 8 - 1) < 0.02                 # std = d_model^-0.5
    ff = m.encoder.layers[0].ff.linear1
    assert abs(ff.weight.data.std() / (np.sqrt(6 / (64 + 128)) / np.sqrt(3)) - 1) < 0.03
    assert not ff.bias.data.any()
    tagger = NERTagger(TaggerConfig(n_words=3000, n_chars=20, tags=["O"], d_model=8, n_heads=2, d_ff=16, n_layers=1))
    assert abs(tagger.word_emb.weight.data.std() / 0.1 - 1) < 0.02
    qqp = PairClassifier(PairClassifierConfig(vocab_size=3000, d_model=64, n_heads=2, d_ff=16, n_layers=1))
    assert abs(qqp.tok_emb.weight.data.std() * 8 - 1) < 0.02
