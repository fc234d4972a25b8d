import numpy as np
import pytest
from pmt.core import SGD, Adam, seed
from pmt.core.checkpoint import load_checkpoint, save_checkpoint
from pmt.core.data import batches
from pmt.core.trainer import Trainer

import pmt.graph as G
from pmt.graph import Linear, Module, ModuleDict, ModuleList, Parameter, ReLU, Sequential


class TwoTower(Module):
    def __init__(self):
        super().__init__()
        self.scale = Parameter(np.ones(1), name=None)
        self.towers = ModuleList([Linear(3, 4), Linear(3, 4)])
        self.heads = ModuleDict({"a": Linear(4, 2)})
        self.shared = self.towers[0]  # the same module twice: its parameters are listed once

    def forward(self, x):
        h = self.towers[0](x) + self.towers[1](x)
        return self.heads["a"](G.relu(h)) * self.scale


def test_parameters_are_registered_by_attribute_in_order_and_listed_once():
    m = TwoTower()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "towers.0.weight", "towers.0.bias", "towers.1.weight", "towers.1.bias",
                     "heads.a.weight", "heads.a.bias"]
    assert len(m.parameters()) == 7 and m.num_parameters() == 1 + 2 * (12 + 4) + 10
    assert m.scale.name == "scale"


def test_reassigning_or_deleting_an_attribute_updates_registration():
    m = Sequential(Linear(2, 2))
    m[0].bias = None
    assert [n for n, _ in m.named_parameters()] == ["0.weight"]
    del m[0].weight
    assert m.parameters() == []


def test_forgetting_super_init_is_a_clear_error():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(np.ones(2))
    with pytest.raises(RuntimeError, match=r"super\(\)\.__init__\(\)"):
        Bad()


def test_train_and_eval_propagate_to_submodules():
    m = Sequential(Linear(2, 2), G.Dropout(0.5), Sequential(G.Dropout(0.1)))
    m.eval()
    assert all(not sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_state_dict_round_trip_copies_values():
    seed(0)
    a, b = TwoTower(), TwoTower()
    state = a.state_dict()
    state["scale"][...] = 5.0  # a copy: the model is untouched
    assert a.scale.data[0] == 1.0
    b.load_state_dict(a.state_dict())
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_lists_missing_unexpected_and_misshaped_keys():
    m = TwoTower()
    state = m.state_dict()
    del state["scale"]
    state["extra.weight"] = np.ones(3)
    state["heads.a.bias"] = np.ones(5)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(state)
    msg = str(e.value)
    assert "missing keys: ['scale']" in msg and "unexpected keys: ['extra.weight']" in msg
    assert "heads.a.bias: expected (2,), got (5,)" in msg
    del state["heads.a.bias"]
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert missing == ["scale", "heads.a.bias"] and unexpected == ["extra.weight"]


def test_repr_is_an_indented_tree():
    m = Sequential(Linear(4, 8), ReLU(), Sequential(G.Dropout(0.25), Linear(8, 2, bias=False)))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.25)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=False)\n"
        "  )\n"
        ")")


def test_containers_reject_non_modules():
    with pytest.raises(TypeError, match="layer 1"):
        Sequential(Linear(2, 2), lambda x: x)
    with pytest.raises(TypeError):
        ModuleList([3])
    with pytest.raises(ValueError, match="identifier"):
        ModuleDict({"a.b": Linear(2, 2)})


def test_train_step_fills_every_gradient_and_eval_step_records_nothing():
    m = TwoTower()
    x, y = np.random.default_rng(0).random((5, 3)).astype(np.float32), np.array([0, 1, 1, 0, 1])
    loss, out = m.train_step((x, y), G.cross_entropy)
    assert isinstance(loss, float) and isinstance(out, np.ndarray) and out.shape == (5, 2)
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.zero_grad()
    loss2, out2 = m.eval_step((x, y), G.cross_entropy)
    assert abs(loss2 - loss) < 1e-6 and all(p.grad is None for p in m.parameters())


def test_train_step_casts_float_inputs_to_the_model_dtype():
    m = Sequential(Linear(3, 2))
    _, out = m.train_step((np.ones((4, 3)), np.zeros(4, np.int64)), G.cross_entropy)
    assert out.dtype == np.float32


def test_trainer_fits_a_graph_model_and_checkpoints_restore_it(tmp_path):
    seed(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like quadrants: needs the hidden layer
    model = Sequential(Linear(2, 32), G.Tanh(), Linear(32, 2))
    opt = Adam(model.parameters(), lr=0.03)
    trainer = Trainer(model, opt, G.cross_entropy, metrics={"acc": lambda o, t: float((o.argmax(-1) == t).mean())},
                      log=lambda s: None, progress=False)
    hist = trainer.fit(batches(x, y, batch_size=32, shuffle=True), epochs=30, eval_data=batches(x, y, batch_size=256))
    assert hist["val_acc"][-1] > 0.95
    path = save_checkpoint(tmp_path / "m.npz", model, opt, epoch=30)
    fresh = Sequential(Linear(2, 32), G.Tanh(), Linear(32, 2))
    opt2 = Adam(fresh.parameters(), lr=0.03)
    load_checkpoint(path, fresh, opt2)
    np.testing.assert_array_equal(fresh.eval_step((x, y), G.cross_entropy)[1],
                                  model.eval_step((x, y), G.cross_entropy)[1])
    assert opt2.t == opt.t


def test_sgd_on_sparse_embedding_gradient_updates_only_touched_rows():
    emb = G.Embedding(10, 3)
    before = emb.weight.data.copy()
    opt = SGD(emb.parameters(), lr=0.1)
    emb(np.array([2, 2, 5])).sum().backward()
    opt.step()
    changed = np.where((emb.weight.data != before).any(axis=1))[0]
    np.testing.assert_array_equal(changed, [2, 5])
    np.testing.assert_allclose(before[2] - emb.weight.data[2], 0.2, rtol=1e-6)
