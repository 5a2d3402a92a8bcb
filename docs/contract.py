"""Write the website's "Contract additions" page from the code: every public name of the package
that the design contract does not name.

The design contract (DESIGN.md, kept outside this repository) fixes the names in
``DESIGN_NAMES`` below; a name is *public* when it does not start with an underscore, lives in a
module whose path has no underscore part, and is a function, class or UPPER_CASE constant defined
in that module (not imported into it). Methods count for the contract's classes. The command
line's subcommands are the modules of ``scratchvae.commands``.

Run by docs/conf.py when the build starts; ``python docs/contract.py`` prints the page.
"""

import importlib
import inspect
import pkgutil
import re

# The public names of DESIGN.md's "Public API" and "Command line" sections.
DESIGN_NAMES = {
    "scratchvae.functional." + name
    for op in ("dense", "relu", "sigmoid", "tanh", "leaky_relu", "softplus")
    for name in (f"{op}_forward", f"{op}_backward")
} | {
    "scratchvae.reparam.reparameterize", "scratchvae.reparam.reparameterize_backward",
    "scratchvae.reparam.std_from_logvar",
    "scratchvae.losses.kl_standard_normal", "scratchvae.losses.kl_standard_normal_grad",
    "scratchvae.losses.bernoulli_nll", "scratchvae.losses.bernoulli_nll_grad",
    "scratchvae.losses.gaussian_nll", "scratchvae.losses.gaussian_nll_grad",
    "scratchvae.models.vae.VAE", "scratchvae.models.vae.VAE.encode",
    "scratchvae.models.vae.VAE.reparameterize", "scratchvae.models.vae.VAE.decode",
    "scratchvae.models.vae.VAE.loss_and_grads", "scratchvae.models.vae.VAE.elbo",
    "scratchvae.models.vae.VAE.sample",
    "scratchvae.models.autoencoder.Autoencoder",
    "scratchvae.models.autoencoder.Autoencoder.loss_and_grads",
    "scratchvae.models.denoising.DenoisingAutoencoder",
    "scratchvae.models.denoising.DenoisingAutoencoder.loss_and_grads",
    "scratchvae.optim.Adam", "scratchvae.optim.Adam.step", "scratchvae.optim.SGD",
    "scratchvae.optim.SGD.step",
    "scratchvae.train.fit", "scratchvae.evaluate.importance_sampled_nll",
    "scratchvae.checkpoint.save", "scratchvae.checkpoint.load",
    "scratchvae.gradcheck.check_model", "scratchvae.gradcheck.check_op",
    "scratchvae.gradcheck.rel_error", "scratchvae.gradcheck.numerical_grad",
    "scratchvae.data.idx.read_idx", "scratchvae.data.loaders.load", "scratchvae.data.sprites.sprites",
    "scratchvae.cli.main",
}
DESIGN_CLASSES = {name for name in DESIGN_NAMES if name.rsplit(".", 1)[-1][:1].isupper()}
DESIGN_COMMANDS = {"train", "evaluate", "sample", "gradcheck", "data"}

INTRO = """\
# Contract additions

The project's design contract fixes a set of public names (the functional ops and their
backwards, `reparameterize`, the KL and likelihood terms, `VAE` / `Autoencoder` /
`DenoisingAutoencoder`, `SGD` / `Adam`, `fit`, `importance_sampled_nll`, `save` / `load`, the
gradient checker, `read_idx` / `load` / `sprites`, and the subcommands `train`, `evaluate`,
`sample`, `gradcheck`, `data`). Every one of them keeps working with the signature the contract
gives. This page lists every public name the package adds beyond them; outside code may rely on
these too, and a rename keeps the old name as an alias that raises a `DeprecationWarning`.

The page is generated from the code when the site is built (`docs/contract.py`), so it is
complete by construction: a public function, class or constant added to the package appears here
on the next build. Each name links to its entry in the API reference.
"""


def _is_public_module(name):
    return not any(part.startswith("_") for part in name.split("."))


def public_modules():
    """The package's public modules, in order (``scratchvae.__main__`` and ``_private`` ones left out)."""
    import scratchvae

    names = ["scratchvae"] + [info.name for info in
                              pkgutil.walk_packages(scratchvae.__path__, "scratchvae.")]
    return [importlib.import_module(name) for name in names if _is_public_module(name)]


def _constants(module):
    """UPPER_CASE names assigned at the top of the module's own source."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return []
    return sorted(set(re.findall(r"^([A-Z][A-Z0-9_]+)\s*[:=]", source, flags=re.M)))


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    first = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", first)  # :func:`save` -> `save`
    return first.replace("|", "\\|").replace("$", "\\$")


def _constant_summary(module, name):
    """The constant's docstring (the string below its assignment), else its value."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        doc = ModuleAnalyzer.for_module(module.__name__).find_attr_docs().get(("", name))
    except Exception:  # noqa: BLE001  (no source to read: show the value)
        doc = None
    if doc:
        return _summary(type("Doc", (), {"__doc__": "\n".join(doc)}))
    value = repr(getattr(module, name))
    value = value if len(value) <= 60 else value[:57] + "..."
    return "value " + _summary(type("Doc", (), {"__doc__": f"`{value}`"}))


def module_additions(module):
    """[(dotted name, kind, one-line summary)] of the module's public names beyond the contract."""
    rows = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        dotted = f"{module.__name__}.{name}"
        if dotted not in DESIGN_NAMES:
            rows.append((dotted, "class" if inspect.isclass(value) else "function", _summary(value)))
        if dotted in DESIGN_CLASSES:  # the contract's classes: their added methods
            for method, member in vars(value).items():
                if (not method.startswith("_") and callable(member)
                        and f"{dotted}.{method}" not in DESIGN_NAMES):
                    rows.append((f"{dotted}.{method}", "method", _summary(member)))
    for name in _constants(module):
        if hasattr(module, name):
            rows.append((f"{module.__name__}.{name}", "constant",
                         _constant_summary(module, name)))
    return rows


def command_additions():
    """Subcommands of ``scratchvae`` beyond the contract's, from the modules of scratchvae.commands."""
    import scratchvae.commands

    names = sorted(info.name for info in pkgutil.iter_modules(scratchvae.commands.__path__)
                   if _is_public_module(info.name))
    return [name for name in names if name not in DESIGN_COMMANDS]


def top_level_additions():
    """Names ``import scratchvae as sv`` offers (``sv.CVAE``, ``sv.notebook``) beyond the contract's."""
    import scratchvae

    contract = {"VAE", "Autoencoder", "DenoisingAutoencoder", "fit", "save", "load", "functional",
                "reparam", "losses", "layers", "optim", "gradcheck", "evaluate", "data", "cli"}
    return [name for name in scratchvae.__all__ if name not in contract]


def page():
    """The Markdown text of the page."""
    lines = [INTRO, "## `import scratchvae as sv`", ""]
    lines.append(", ".join(f"`sv.{name}`" for name in top_level_additions()) + ".")
    lines += ["", "## Command line", ""]
    commands = command_additions()
    lines.append("Subcommands beyond the contract's: "
                 + (", ".join(f"`scratchvae {name}`" for name in commands) or "none") + ".")
    for module in public_modules():
        rows = module_additions(module)
        if not rows:
            continue
        lines += ["", f"## `{module.__name__}`", "", "| name | kind | what it is |", "|---|---|---|"]
        for dotted, kind, summary in rows:
            short = dotted[len(module.__name__) + 1:]
            lines.append(f"| {{py:obj}}`{short} <{dotted}>` | {kind} | {summary} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(page())
