# -*- Python -*-
# lit configuration for Genie's golden tests (genie-opt + FileCheck).
#
#   .venv/bin/lit -v tests/lit            (or `make lit`)
#
# Substitutions (whole words only, so `--genie-opt` or `mlir-opt-19` inside a
# RUN line are left alone):
#   genie-opt   <repo>/target/debug/genie-opt, or $GENIE_OPT when set
#   FileCheck   FileCheck-19 if on PATH, else the PyPI `filecheck` in .venv/bin
#               ($FILECHECK overrides)
#   mlir-opt    mlir-opt-19 (upstream MLIR, used for IRDL conformance)
#   %python     the interpreter running lit
#   %repo       the repository root
#   %irdl_dir   <repo>/ir/dialects (the checked-in IRDL specifications)
# `not` is lit's builtin (utils/not.py stands in under LIT_USE_INTERNAL_SHELL=0).

import os
import shutil
import sys

import lit.formats

config.name = "genie"
# LLVM's idiom: lit's internal shell (portable; `not` and pipefail built in)
# unless LIT_USE_INTERNAL_SHELL=0 asks for /bin/sh. Tests work under both.
use_lit_shell = os.environ.get("LIT_USE_INTERNAL_SHELL", "1") != "0"
config.test_format = lit.formats.ShTest(not use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = config.test_source_root
# Inputs/ holds files that tests read, not tests.
config.excludes = ["Output", "Inputs", "lit.cfg.py"]

repo = os.path.abspath(os.path.join(config.test_source_root, "..", ".."))


def word(tool):
    """A pattern matching `tool` as a whole command word."""
    return r"(?<![\w/.%-])" + tool.replace(".", r"\.") + r"(?![\w/.-])"


# ----- genie-opt ---------------------------------------------------------------
genie_opt = os.environ.get("GENIE_OPT") or os.path.join(repo, "target", "debug", "genie-opt")
genie_opt = os.path.abspath(genie_opt)
if not (os.path.isfile(genie_opt) and os.access(genie_opt, os.X_OK)):
    lit_config.fatal(
        "genie-opt not found at %s; build it first with "
        "`cargo build -j2 -p genie-opt` (or point GENIE_OPT at a binary)" % genie_opt
    )

# ----- FileCheck ---------------------------------------------------------------
if os.environ.get("FILECHECK"):
    # A name on PATH or a path (relative ones are taken from where lit runs).
    filecheck = os.path.abspath(shutil.which(os.environ["FILECHECK"]) or os.environ["FILECHECK"])
else:
    filecheck = shutil.which("FileCheck-19")
if filecheck is None:
    venv_filecheck = os.path.join(repo, ".venv", "bin", "filecheck")
    filecheck = venv_filecheck if os.path.exists(venv_filecheck) else shutil.which("filecheck")
if filecheck is None:
    lit_config.fatal("no FileCheck: install llvm-19-tools (FileCheck-19) or `pip install filecheck`")

# ----- mlir-opt ----------------------------------------------------------------
mlir_opt = shutil.which("mlir-opt-19")
if mlir_opt is None:
    lit_config.warning("mlir-opt-19 not found (Debian mlir-19-tools); IRDL tests will fail")
    mlir_opt = "mlir-opt-19"

# These run before lit's own (`%s`, `%t`, `%p`, …), so `%python` is not read
# as `%p` followed by "ython".
config.substitutions.append(("%irdl_dir", os.path.join(repo, "ir", "dialects")))
config.substitutions.append(("%repo", repo))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append((word("genie-opt"), genie_opt))
config.substitutions.append((word("FileCheck"), filecheck))
config.substitutions.append((word("mlir-opt"), mlir_opt))

# `not` is built into lit's internal shell; /bin/sh needs a program.
if not use_lit_shell:
    not_py = os.path.join(config.test_source_root, "utils", "not.py")
    # In command position: line start (after lit's `%dbg(RUN: at line N)`
    # marker), or after `|`, `&&`, `;`.
    config.substitutions.append(
        (r"((?:^|\||&&|;|\))\s*)not(?=\s)", r"\g<1>%s %s" % (sys.executable, not_py))
    )

# Tests see the same PATH as lit (mlir-opt-19, FileCheck-19 by name) and a
# stable locale for error messages.
config.environment["PATH"] = os.environ.get("PATH", "")
config.environment["LC_ALL"] = "C"
if "GENIE_OPT" in os.environ:
    config.environment["GENIE_OPT"] = os.environ["GENIE_OPT"]
