"""The drawn computational graphs (glassnet.learn.graph): their numbers are the computation's, their SVG is sound."""

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from glassnet.learn.graph import Graph, Node, Scalar, network_graph, scalar_graph
from glassnet.learn.tiny import tiny_network
from glassnet.nn.gradcheck import numerical_gradient
from glassnet.nn.losses import softmax_cross_entropy

SVG = "{http://www.w3.org/2000/svg}"


def three_nodes(a=2.0, b=-3.0, c=1.5):
    sa, sb, sc = Scalar(a, "a"), Scalar(b, "b"), Scalar(c, "c")
    sf = ((sa * sb).named("u") + sc).named("v").squared().named("f")
    sf.backward()
    return scalar_graph(sf)


def test_the_three_node_graph_holds_the_values_and_the_calculus_gradients():
    graph = three_nodes(2.0, -3.0, 1.5)
    v = 2.0 * -3.0 + 1.5
    assert {node.name: float(node.value) for node in graph.nodes} == {"a": 2.0, "b": -3.0, "c": 1.5, "u": -6.0,
                                                                       "v": v, "f": v ** 2}
    # f = (ab + c)²: ∂f/∂a = 2(ab + c) b, ∂f/∂b = 2(ab + c) a, ∂f/∂c = ∂f/∂u = ∂f/∂v = 2(ab + c)
    assert {node.name: float(node.grad) for node in graph.nodes} == {"a": 2 * v * -3.0, "b": 2 * v * 2.0,
                                                                      "c": 2 * v, "u": 2 * v, "v": 2 * v, "f": 1.0}
    assert graph["v"].inputs == ("u", "c") and graph.backward_order() == ["f", "v", "c", "u", "b", "a"]


def test_a_scalar_used_twice_collects_both_gradients():
    x = Scalar(3.0, "x")
    y = (x * x).named("y")
    y.backward()
    assert x.grad == 6.0                    # d(x²)/dx = 2x: one x·1 from each use


def test_a_scalar_graph_needs_every_name():
    a, b = Scalar(1.0, "a"), Scalar(2.0, "b")
    total = (a * b + a).named("t")
    with pytest.raises(ValueError, match=r"no name.*\.named"):
        scalar_graph(total)


def test_the_network_graph_holds_each_layers_own_forward_and_backward():
    graph = network_graph(*tiny_network())
    model, x, labels = tiny_network()                       # a second, identical network, run here by hand
    out = x
    for i, layer in enumerate(model.layers):
        out = layer.forward(out)
        np.testing.assert_array_equal(graph[f"layer {i}"].value, out)
    loss, grad = softmax_cross_entropy(out, labels)
    assert float(graph["loss"].value) == loss and float(graph["loss"].grad) == 1.0
    for i, layer in reversed(list(enumerate(model.layers))):
        np.testing.assert_array_equal(graph[f"layer {i}"].grad, grad)
        grad = layer.backward(grad)
    np.testing.assert_array_equal(graph["x"].grad, grad)
    for name, p in model.named_params().items():
        np.testing.assert_array_equal(graph[name].value, p.value)
        np.testing.assert_array_equal(graph[name].grad, p.grad)
    assert graph["labels"].grad is None and "labels" not in graph.backward_order()


def test_the_network_graphs_parameter_gradients_are_the_finite_differences():
    graph = network_graph(*tiny_network())
    model, x, labels = tiny_network()

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    for name, p in model.named_params().items():
        numerical = numerical_gradient(loss, p.value, np.arange(p.size)).reshape(p.value.shape)
        np.testing.assert_allclose(graph[name].grad, numerical, rtol=1e-5, atol=1e-8)


def test_the_backward_order_reaches_a_node_after_every_node_computed_from_it():
    graph = network_graph(*tiny_network())
    order = graph.backward_order()
    assert order[0] == "loss" and order[-1] == "x"
    for node in graph.nodes:
        for source in node.inputs:
            if source in order:
                assert order.index(node.name) < order.index(source)


@pytest.mark.parametrize("graph", [three_nodes(), network_graph(*tiny_network())], ids=["three nodes", "tiny network"])
def test_no_two_boxes_overlap_and_every_box_lies_in_the_drawing(graph):
    drawing = graph.drawing()
    boxes = [(n["x"], n["y"], n["x"] + n["width"], n["y"] + n["height"]) for n in drawing["nodes"]]
    for k, (left, top, right, bottom) in enumerate(boxes):
        assert 0 <= left < right <= drawing["width"] and 0 <= top < bottom <= drawing["height"]
        for other in boxes[k + 1:]:
            assert right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top


def test_the_svg_is_well_formed_and_shows_every_number_of_the_graph():
    graph = network_graph(*tiny_network())
    root = ET.fromstring(graph.svg())
    groups = {g.get("data-node"): [t.text for t in g.iter(f"{SVG}text")] for g in root.iter(f"{SVG}g")}
    weight = groups["0.weight"]
    # a title, a label and 12 numbers for the value, then a label and 12 numbers for the gradient, row by row
    assert weight[:2] == ["0.weight: parameter", "value (3, 4)"] and weight[14] == "gradient (3, 4)"
    assert [float(t) for t in weight[2:14]] == pytest.approx(graph["0.weight"].value.ravel(), abs=0.5e-4)
    assert [float(t) for t in weight[15:]] == pytest.approx(graph["0.weight"].grad.ravel(), abs=0.5e-4)
    assert groups["labels"][-1] == "gradient: none"


def test_the_svg_escapes_names_and_operations():
    name = '<script>alert("&")</script>'
    graph = Graph([Node(name, "input", np.array(1.0), np.array(2.0)),
                   Node("y", "f(<x>) & 'g'", np.array(3.0), np.array(1.0), inputs=(name,))])
    svg = graph.svg()
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    groups = list(root.iter(f"{SVG}g"))
    assert groups[0].get("data-node") == name
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert f"{name}: input" in texts and "y: f(<x>) & 'g'" in texts


@pytest.mark.parametrize(("nodes", "message"), [
    ([Node("a", "input", np.array(1.0)), Node("a", "input", np.array(2.0))], "two nodes are called 'a'"),
    ([Node("b", "f", np.array(1.0), inputs=("a",)), Node("a", "input", np.array(2.0))], "forward order"),
    ([Node("a", "input", np.zeros((2, 2, 2)))], "3-d value"),
    ([Node("a", "input", np.zeros((2, 3)), np.zeros((3, 2)))], r"gradient of shape \(3, 2\)"),
])
def test_a_graph_refuses_what_it_cannot_draw(nodes, message):
    with pytest.raises(ValueError, match=message):
        Graph(nodes)


def _stepper_hook():
    path = Path(__file__).parents[1] / "docs" / "stepper_hook.py"
    spec = importlib.util.spec_from_file_location("stepper_hook", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stepper_page_gets_the_tiny_networks_drawing_and_its_script():
    pytest.importorskip("mkdocs")
    hook = _stepper_hook()
    page = hook.stepper("backprop-stepper/")
    data = page.split('<script type="application/json" id="backprop-stepper-data">')[1].split("</script>")[0]
    assert json.loads(data) == network_graph(*tiny_network()).drawing()
    assert '<script src="../javascripts/stepper.js"></script>' in page
    assert '<link rel="stylesheet" href="../stylesheets/stepper.css">' in page


def test_json_in_a_script_element_cannot_close_it():
    pytest.importorskip("mkdocs")
    text = '</script><!-- & -->'
    inside = _stepper_hook().script_json({"name": text})
    assert "<" not in inside and ">" not in inside and json.loads(inside) == {"name": text}
