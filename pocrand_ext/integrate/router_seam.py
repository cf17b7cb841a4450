"""The logits seam of a router module that computes its own top-k (transformers 5.x routers:
`router_logits = F.linear(hidden, self.weight)`, then softmax, top-k and weights in the same
forward). The router class's forward is re-compiled from its source with that one call wrapped
as `self._pocrand_seam.route(F.linear(...))`, so the engine's own softmax, top-k and weights run
on the overridden logits; the new function keeps the class's module globals, so torch.compile
traces it as the original. A forward without exactly one such call is refused."""
from __future__ import annotations

import ast
import inspect
import textwrap

__all__ = ["has_topk", "seamed_forward", "SEAM"]

SEAM = "_pocrand_seam"
_CACHE: dict = {}


def _is_linear(node: ast.AST) -> bool:
    """F.linear, nn.functional.linear or torch.nn.functional.linear."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "linear"):
        return False
    v = node.func.value
    return (isinstance(v, ast.Name) and v.id == "F") or (
        isinstance(v, ast.Attribute) and v.attr == "functional")


def _source(cls) -> tuple:
    fn = cls.forward
    if not inspect.isfunction(fn) or hasattr(fn, "__wrapped__"):
        raise ValueError(f"{cls.__name__}.forward is not a plain function: cannot find its logits")
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as e:
        raise ValueError(f"{cls.__name__}.forward: no source to find its logits in ({e})") from None
    return fn, src


def has_topk(cls) -> bool:
    """Whether the class's forward selects experts itself (its source calls a topk)."""
    try:
        _, src = _source(cls)
    except ValueError:
        return False
    return "topk" in src


def seamed_forward(cls):
    """cls.forward with its one F.linear(...) result passed through self._pocrand_seam.route."""
    if cls in _CACHE:
        return _CACHE[cls]
    fn, src = _source(cls)
    where = f"{cls.__module__}.{cls.__qualname__}.forward"
    if fn.__code__.co_freevars:
        raise ValueError(f"{where} uses closure variables ({fn.__code__.co_freevars}): cannot "
                         "re-compile it with its logits overridden")
    tree = ast.parse(src)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef) or fdef.decorator_list or not fdef.args.args:
        raise ValueError(f"{where} is decorated or takes no self: cannot find its logits")
    calls = [n for n in ast.walk(fdef) if _is_linear(n)]
    if len(calls) != 1:
        raise ValueError(f"{where} has {len(calls)} F.linear calls; the router logits seam needs "
                         "exactly one (the logits before the top-k)")
    self_name = fdef.args.args[0].arg

    class Wrap(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if node is calls[0]:
                seam = ast.Attribute(ast.Attribute(ast.Name(self_name, ast.Load()), SEAM,
                                                   ast.Load()), "route", ast.Load())
                return ast.copy_location(ast.Call(seam, [node], []), node)
            return node

    tree = ast.fix_missing_locations(Wrap().visit(tree))
    ast.increment_lineno(tree, fn.__code__.co_firstlineno - 1)
    namespace: dict = {}
    exec(compile(tree, inspect.getsourcefile(fn) or where, "exec"), fn.__globals__, namespace)
    new = namespace[fdef.name]
    new.__defaults__, new.__kwdefaults__ = fn.__defaults__, fn.__kwdefaults__
    new.__qualname__ = f"{cls.__qualname__}.forward"
    _CACHE[cls] = new
    return new
