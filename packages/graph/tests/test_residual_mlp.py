"""A residual MLP (skip connections: each block's input is used twice)."""
import numpy as np
from pmt.core import seed

from pmt.graph import Tensor, gradcheck
from pmt.graph.examples.residual_mlp import ResidualBlock, ResidualMLP, train


def test_residual_block_gradient_includes_the_skip_path():
    seed(0)
    block = ResidualBlock(4, 8)
    for p in block.parameters():
        p.data = p.data.astype(np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(block, [x])
    # with the branch's output layer zeroed, the block is the identity and dL/dx = seed
    block.fc2.weight.data[...] = 0
    block.fc2.bias.data[...] = 0
    y = block(x)
    x.grad = None
    y.backward(np.ones((3, 4)))
    np.testing.assert_allclose(x.grad, 1.0)


def test_residual_mlp_registers_every_block():
    m = ResidualMLP(2, 8, 3, 2)
    names = [n for n, _ in m.named_parameters()]
    assert "blocks.2.fc2.bias" in names and len(names) == 2 + 3 * 6 + 2 + 2


def test_residual_mlp_learns_two_spirals():
    _, history, acc = train(epochs=30, log=lambda s: None)
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    assert acc >= 0.95, f"held-out accuracy {acc:.3f}"
