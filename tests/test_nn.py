"""Neuron, Layer, MLP: shapes, errors, seeds, gradients, saving and loading."""

import json
import math
import random
import re
import statistics

import pytest

from microgrboard import Value, topological_order
from microgrboard.nn import MLP, Layer, Module, Neuron
from microgrboard.testing import gradcheck, numerical_gradient


def test_mlp_parameter_count_and_output_kind():
    model = MLP(2, [16, 16, 1], seed=0)
    assert len(model.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
    assert isinstance(model([1.0, -1.0]), Value)
    outputs = MLP(3, [4, 2], seed=0)([1.0, 2.0, 3.0])
    assert isinstance(outputs, list) and len(outputs) == 2


def test_a_single_output_layer_in_the_middle_still_works():
    # micrograd's nout == 1 special case breaks MLP(2, [16, 1, 1]).
    model = MLP(2, [16, 1, 1], seed=0)
    assert isinstance(model([0.5, 0.5]), Value)


def test_layer_returns_a_list_unless_asked_to_squeeze():
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), list)
    assert isinstance(Layer(2, 1, seed=0, squeeze=True)([1.0, 2.0]), Value)


@pytest.mark.parametrize(
    "module, x, message",
    [
        (MLP(2, [3, 1], seed=0), [1.0, 2.0, 3.0], "MLP expected 2 inputs, got 3"),
        (Layer(3, 2, seed=0), [1.0], "expected 3 inputs, got 1"),
        (Neuron(2, seed=0), [], "expected 2 inputs, got 0"),
    ],
)
def test_wrong_input_length_says_expected_and_got(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


def test_a_scalar_input_is_a_type_error():
    with pytest.raises(TypeError, match="sequence"):
        MLP(1, [1], seed=0)(3.0)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: Neuron(0), ValueError),
        (lambda: Neuron(True), ValueError),
        (lambda: Neuron(2, activation="swish"), ValueError),
        (lambda: Layer(2, 0), ValueError),
        (lambda: MLP(2, 3), TypeError),
        (lambda: MLP(2, []), TypeError),
    ],
)
def test_bad_construction_arguments(make, error):
    with pytest.raises(error):
        make()


def test_repr_shows_both_activations():
    assert repr(MLP(2, [1], activation="tanh")) == (
        "MLP(2, [1], activation='tanh', output_activation='linear')"
    )


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_activations_apply(activation):
    neuron = Neuron(2, activation, seed=3)
    out = neuron([0.3, -0.7])
    pre = sum(w.data * x for w, x in zip(neuron.w, [0.3, -0.7])) + neuron.b.data
    expected = {
        "relu": max(pre, 0.0),
        "tanh": math.tanh(pre),
        "sigmoid": 1 / (1 + math.exp(-pre)),
        "linear": pre,
    }[activation]
    assert out.data == pytest.approx(expected)


def test_seeds_make_initialisation_reproducible():
    assert MLP(2, [4, 1], seed=7).state_dict() == MLP(2, [4, 1], seed=7).state_dict()
    assert MLP(2, [4, 1], seed=7).state_dict() != MLP(2, [4, 1], seed=8).state_dict()
    a = MLP(2, [4, 1], seed=random.Random(5)).state_dict()
    assert a == MLP(2, [4, 1], seed=random.Random(5)).state_dict()


def test_labels_name_parameters_and_neuron_outputs():
    model = MLP(2, [3, 1], seed=0)
    assert [p.label for p in model.parameters()] == list(model.state_dict())
    assert "L0.N2.w1" in model.state_dict() and "L1.N0.b" in model.state_dict()
    assert model([1.0, 2.0]).label == "L1.N0"


def test_relabelling_a_parameter_does_not_rename_it():
    model = MLP(2, [1], seed=0)
    model.parameters()[0].label = "my weight"
    assert "L0.N0.w0" in model.state_dict()


def test_model_gradients_match_numerical_derivatives():
    model = MLP(2, [3, 2, 1], activation="tanh", seed=1)
    params = model.parameters()

    def loss(*_):
        return (model([0.4, -0.9]) - 0.25) ** 2

    assert gradcheck(loss, params)


def test_zero_grad_clears_accumulated_gradients():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_state_dict_round_trip_through_a_json_file(tmp_path):
    source, target = MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=2)
    path = tmp_path / "model.json"
    source.save(path)
    assert json.loads(path.read_text())["format"] == "microgrboard.state_dict"
    target.load(path)
    assert target.state_dict() == source.state_dict()
    assert target([0.1, 0.2]).data == source([0.1, 0.2]).data


def test_loading_another_shape_fails_and_changes_nothing(tmp_path):
    path = tmp_path / "small.json"
    MLP(2, [4, 1], seed=1).save(path)
    model = MLP(2, [5, 1], seed=2)
    before = model.state_dict()
    with pytest.raises(ValueError, match="missing"):
        model.load(path)
    assert model.state_dict() == before


def test_loading_bad_values_changes_nothing():
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    state = dict.fromkeys(before, "x")
    with pytest.raises(TypeError, match="numbers"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_numpy_numbers_load(tmp_path):
    np = pytest.importorskip("numpy")
    model = MLP(1, [1], seed=0)
    model.load_state_dict({name: np.float64(0.5) for name in model.state_dict()})
    assert set(model.state_dict().values()) == {0.5}


def test_loading_missing_or_foreign_files_is_a_clear_error(tmp_path):
    model = MLP(1, [1], seed=0)
    with pytest.raises(FileNotFoundError, match="no saved model"):
        model.load(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad JSON"):
        model.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"weights": [1, 2]}')
    with pytest.raises(ValueError, match="not a microgrboard saved model"):
        model.load(tmp_path / "other.json")
    (tmp_path / "empty.json").write_text('{"format": "microgrboard.state_dict"}')
    with pytest.raises(ValueError, match="not a microgrboard saved model"):
        model.load(tmp_path / "empty.json")


def test_a_custom_module_finds_its_parameters_in_its_attributes():
    class Affine(Module):
        def __init__(self):
            self.a, self.b = Value(2.0, "a"), [Value(1.0, "b")]

        def __call__(self, x):
            return self.a * x + self.b[0]

    model = Affine()
    assert list(model.state_dict()) == ["a", "b.0"]
    model(3.0).backward()
    assert [p.grad for p in model.parameters()] == [3.0, 1.0]
    model.zero_grad()
    assert [p.grad for p in model.parameters()] == [0.0, 0.0]


def test_composed_modules_get_distinct_names_and_load_every_part():
    class Pair(Module):
        def __init__(self, seed):
            self.encoder, self.head = MLP(2, [2], seed=seed), MLP(2, [1], seed=seed + 1)

    source, target = Pair(0), Pair(10)
    assert len(source.state_dict()) == len(source.parameters()) == 6 + 3
    assert "encoder.L0.N1.w0" in source.state_dict() and "head.L0.N0.b" in source.state_dict()
    target.load_state_dict(source.state_dict())
    assert target.state_dict() == source.state_dict()


def test_a_shared_parameter_counts_once_but_a_name_clash_is_an_error():
    class Tied(Module):
        def __init__(self):
            self.w = Value(1.0)
            self.also_w = [self.w]

    assert len(Tied().parameters()) == 1

    class Clash(Module):
        def named_parameters(self):
            yield "w", Value(1.0)
            yield "w", Value(2.0)

    with pytest.raises(ValueError, match="both named 'w'"):
        Clash().state_dict()


def test_a_module_without_call_says_so():
    with pytest.raises(NotImplementedError, match="__call__"):
        Module()(1.0)


# --- a neuron as one node, or expanded ------------------------------------------------------


def test_a_neuron_is_one_linear_node_unless_expanded():
    out = Neuron(3, "linear", seed=0)([1.0, 2.0, 3.0])
    assert out.op == "linear" and len(out.parents) == 7 and out.label == "N"
    expanded = Neuron(3, "linear", seed=0, expand=True)([1.0, 2.0, 3.0])
    assert {n.op for n in topological_order(expanded)} == {"", "*", "+"}
    assert len(topological_order(expanded)) == 3 + 3 + 1 + 3 + 3  # w, x, b, products, sums


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_linear_and_expanded_networks_give_identical_numbers(activation):
    x = [0.3, -1.7, 0.9]
    outputs, gradients = [], []
    for expand in (False, True):
        model = MLP(3, [8, 8, 2], activation, seed=4, expand=expand)
        inputs = [Value(v) for v in x]
        scores = model(inputs)
        loss = (scores[0] - 0.5) ** 2 + scores[1].tanh()
        loss.backward()
        outputs.append([s.data for s in scores] + [loss.data])
        gradients.append([p.grad for p in model.parameters()] + [v.grad for v in inputs])
    assert outputs[0] == outputs[1]
    assert gradients[0] == gradients[1]  # every parameter and every input, to the bit


@pytest.mark.parametrize("make", [MLP, Layer, Neuron])
def test_expand_must_be_a_bool(make):
    args = {MLP: (2, [3]), Layer: (2, 3), Neuron: (2,)}[make]
    with pytest.raises(TypeError, match="expand must be True or False, got 'yes'"):
        make(*args, expand="yes")


def test_expand_reaches_every_neuron_and_shows_in_the_repr():
    model = MLP(2, [3, 1], seed=0, expand=True)
    assert all(n.expand for layer in model.layers for n in layer.neurons)
    assert repr(model).endswith("expand=True)")
    assert Layer(2, 2, expand=True).neurons[1].expand


def test_plain_number_inputs_become_one_leaf_each():
    model = MLP(2, [16, 16, 1], seed=0)
    out = model([0.5, -1.0])
    leaves = [n for n in topological_order(out) if not n.parents]
    inputs = [n for n in leaves if n.label in ("x0", "x1")]
    assert [n.label for n in inputs] == ["x0", "x1"]
    assert len(leaves) == len(model.parameters()) + 2  # exactly 2 input leaves


def test_an_input_leaf_holds_the_whole_gradient_with_respect_to_its_input():
    model = MLP(2, [16, 16, 1], activation="tanh", seed=0)
    out = model([0.5, -1.0])
    out.backward()
    x0 = next(n for n in topological_order(out) if n.label == "x0")
    numerical = numerical_gradient(lambda a: model([a, Value(-1.0)]), [0.5])[0]
    assert x0.grad == pytest.approx(numerical, rel=1e-6, abs=1e-9)


def test_value_inputs_are_used_as_they_are():
    x = [Value(0.5, "mine"), Value(-1.0)]
    out = Layer(2, 3, "linear", seed=0)(x)
    for neuron_output in out:
        assert neuron_output.parents[2:4] == tuple(x)  # (*w, *x, b)
    assert x[0].label == "mine" and x[1].label == ""


def test_a_non_number_input_is_named():
    with pytest.raises(TypeError, match="MLP inputs must be numbers or Values.*str"):
        MLP(2, [1], seed=0)([1.0, "a"])


# --- loading refuses what is not a finite float, naming the key ---------------------------


def _saved(tmp_path, parameters_text):
    path = tmp_path / "model.json"
    path.write_text('{"format": "microgrboard.state_dict", "parameters": ' + parameters_text + "}")
    return path


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_load_refuses_non_finite_literals_naming_the_key(tmp_path, literal):
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    path = _saved(tmp_path, f'{{"L0.N0.w0": {literal}, "L0.N0.b": 0.5}}')
    with pytest.raises(ValueError, match=r"'L0\.N0\.w0' is not finite"):
        model.load(path)
    assert model.state_dict() == before


@pytest.mark.parametrize("digits", [401, 5000])  # past 4,300 Python refuses to parse it
def test_load_refuses_an_int_too_large_for_a_float_naming_the_key(tmp_path, digits):
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    path = _saved(tmp_path, '{"L0.N0.w0": 0.5, "L0.N0.b": -1' + "0" * (digits - 1) + "}")
    with pytest.raises(ValueError, match=rf"'L0\.N0\.b' is too large for a float \(an int of "
                                         rf"{digits} digits\)"):
        model.load(path)
    assert model.state_dict() == before


@pytest.mark.parametrize(("value", "kind", "depth"), [("[" * 50 + "]" * 50, "a list", 50),
                                                      ('{"a": [1, [2]]}', "an object", 3)])
def test_load_refuses_nested_values_naming_the_key(tmp_path, value, kind, depth):
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    path = _saved(tmp_path, '{"L0.N0.w0": 0.5, "L0.N0.b": ' + value + "}")
    with pytest.raises(ValueError, match=rf"'L0\.N0\.b' is {kind} \({depth} levels of nesting\)"):
        model.load(path)
    assert model.state_dict() == before


def test_load_refuses_deep_nesting_naming_the_key(tmp_path):
    model = MLP(1, [1], seed=0)
    path = _saved(tmp_path, '{"L0.N0.w0": 0.5, "L0.N0.b": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match=r"'L0\.N0\.b' is nested too deeply"):
        model.load(path)


def test_save_refuses_non_finite_parameters_naming_them(tmp_path):
    model = MLP(1, [1], seed=0)
    model.parameters()[1].data = math.nan
    with pytest.raises(ValueError, match=r"'L0\.N0\.b' is not finite"):
        model.save(tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()


# --- initializers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "init, std", [("he", math.sqrt(2 / 64)), ("xavier", math.sqrt(1 / 64)), (0.01, 0.01)]
)
def test_normal_initializers_have_the_book_standard_deviations(init, std):
    model = MLP(64, [100, 100], init=init, seed=0)
    for layer, nin in zip(model.layers, (64, 100)):
        weights = [w.data for n in layer.neurons for w in n.w]
        expected = std if init == 0.01 else std * math.sqrt(64 / nin)  # σ scales with 1/√n
        assert statistics.mean(weights) == pytest.approx(0, abs=4 * expected / 100)
        assert statistics.stdev(weights) == pytest.approx(expected, rel=0.03)
        assert all(n.b.data == 0.0 for n in layer.neurons)


def test_uniform_stays_the_default_and_initializers_are_seeded():
    default = MLP(2, [4, 1], seed=7).state_dict()
    assert default == MLP(2, [4, 1], seed=7, init="uniform").state_dict()
    assert all(-1 <= v <= 1 for v in default.values())
    he = MLP(2, [4, 1], seed=7, init="he").state_dict()
    assert he == MLP(2, [4, 1], seed=7, init="he").state_dict() != default
    assert Neuron(3, init="xavier", seed=1).init == "xavier"
    assert repr(Layer(2, 3, init=0.5)) == "Layer(2, 3, activation='relu', init=0.5)"


@pytest.mark.parametrize("bad", ["normal", "", 0, -0.1, math.inf, math.nan, True, None, [0.1]])
@pytest.mark.parametrize("make", [MLP, Layer, Neuron])
def test_a_bad_init_names_the_argument_and_the_value(make, bad):
    args = {MLP: (2, [3]), Layer: (2, 3), Neuron: (2,)}[make]
    with pytest.raises(ValueError, match=rf"init must be one of .* got {re.escape(repr(bad))}"):
        make(*args, init=bad)


@pytest.mark.parametrize(
    "module", [Neuron(3, seed=0), Layer(3, 4, seed=0), MLP(3, [4, 2], seed=0)], ids=repr
)
def test_parameters_are_the_named_parameters_each_once(module):
    assert module.parameters() == [p for _, p in module.named_parameters()]
    first = module.parameters()[0]
    if isinstance(module, Neuron):
        module.w[1] = first  # a weight tied by hand still counts once
    else:
        (module.neurons if isinstance(module, Layer) else module.layers[0].neurons)[0].w[1] = first
    assert module.parameters().count(first) == 1


def test_a_neuron_name_must_be_a_string():
    # it labels every output the neuron makes
    with pytest.raises(TypeError, match="name must be a str, got int: 5"):
        Neuron(2, name=5)
