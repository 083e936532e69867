#!/usr/bin/env python3
"""fdikp-deblur-batch: deblurs photos with GIMP's "Defocus Deblur" filter.

usage: fdikp-deblur-batch -o OUTDIR [--model NAME|FILE] [--stages N]
                          [--tile-size N] [--tile-overlap N]
                          [--device auto|cpu|cuda] FILE|GLOB...
       (the options after -o are the filter's, from engine/contract.json)
       fdikp-deblur-batch --list-models

One gimp-console runs the PDB procedure plug-in-fdikp-deblur on every file
and exports the result under OUTDIR with the same name, hence the same
format. One line per file tells how it went; a file that fails is named and
the others are still processed; the exit status is 1 if any file failed.

Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
"""

import argparse
import gettext
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

_ = gettext.translation("@GETTEXT_PACKAGE@", "@LOCALEDIR@", fallback=True).gettext

PROCEDURE = "plug-in-fdikp-deblur"
OPERATION = "fdikp:defocus-deblur"
# The op's listing of installed models: a key of its "model" property
# (gegl-op/defocus-deblur.h, FDIKP_DEBLUR_MODELS_KEY).
MODELS_KEY = "fdikp-models"

# The contract file (engine/contract.json), substituted at configure time:
# every option the filter takes becomes an option of this command, with its
# range, choices and default, and an argument of the procedure (the same
# names: the procedure's arguments are the operation's properties, which
# are the contract's options).
CONTRACT = json.loads(r"""@FDIKP_CONTRACT@""")
OPTIONS = CONTRACT["options"]

# The procedure's own arguments, beside the op's properties
# (plugin/fdikp-deblur/deblur-graph.c): "Only where out of focus", its
# threshold and feather, in px of the defocus map's blur radius.
FOCUS_LIMITS = (0.0, 32.0)
FOCUS_DEFAULTS = {"focus-threshold": 1.5, "focus-feather": 1.0}

# Runs inside gimp-console (python-fu-eval): reads the job, writes one JSON
# line per file to the results file as soon as that file is done.
GIMP_SIDE = r'''
import json, os, time
import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio

with open(os.environ["FDIKP_BATCH_JOB"]) as f:
    job = json.load(f)

class Failure(Exception):
    """A file failed at a stage the batch command words for the user."""
    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage

def run(name, **arguments):
    """Runs a PDB procedure; returns its values, raises with its message."""
    proc = Gimp.get_pdb().lookup_procedure(name)
    if proc is None:
        raise RuntimeError("GIMP has no procedure " + name)
    cfg = proc.create_config()
    for key, value in arguments.items():
        if key == "drawables":
            cfg.set_core_object_array(key, value)
        else:
            cfg.set_property(key, value)
    result = proc.run(cfg)
    if result.index(0) != Gimp.PDBStatusType.SUCCESS:
        message = result.index(1) if result.length() > 1 else None
        raise RuntimeError(message or result.index(0).value_nick)
    return [result.index(i) for i in range(1, result.length())]

def deblur(src, dst):
    try:
        image, = run("gimp-file-load", **{"run-mode": Gimp.RunMode.NONINTERACTIVE,
                                          "file": Gio.File.new_for_path(src)})
    except RuntimeError as e:
        raise Failure("load", str(e))
    try:
        layers = image.get_selected_layers() or image.get_layers()
        run(job["procedure"], image=image, drawables=layers,
            **{"run-mode": Gimp.RunMode.NONINTERACTIVE}, **job["arguments"])
        if len(image.get_layers()) > 1:
            image.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        if not Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                              Gio.File.new_for_path(dst), None):
            raise Failure("save", Gimp.get_pdb().get_last_error())
    finally:
        image.delete()

with open(job["results"], "a") as results:
    for src, dst in job["files"]:
        start = time.monotonic()
        try:
            deblur(src, dst)
            record = {"file": src, "output": dst, "ok": True}
        except Exception as e:
            message = getattr(e, "message", None) or str(e)
            record = {"file": src, "ok": False, "error": message,
                      "stage": getattr(e, "stage", "deblur")}
        record["seconds"] = time.monotonic() - start
        results.write(json.dumps(record) + "\n")
        results.flush()
'''


def expand(patterns):
    """Files named or matched by the arguments, in order, each once; a name
    that matches nothing stays, to be reported as missing."""
    files = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in matches or [pattern]:
            if path not in files:
                files.append(path)
    return files


def installed_models():
    """The installed models as the GEGL operation lists them: a list of
    (name, label, file, is_default); None when GEGL's Python bindings or the
    operation are missing."""
    try:
        import gi
        gi.require_version("Gegl", "0.4")
        from gi.repository import Gegl
    except (ImportError, ValueError):
        return None
    Gegl.init(None)
    if not Gegl.has_operation(OPERATION):
        return None
    listing = Gegl.Operation.get_property_key(OPERATION, "model", MODELS_KEY) or ""
    models = []
    for line in listing.splitlines():
        fields = line.split("\t")
        if len(fields) == 4:
            models.append((fields[0], fields[1], fields[2], fields[3] == "default"))
    return models


def list_models():
    models = installed_models()
    if models is None:
        print(_("The GEGL operation {op} is not installed, or GEGL's Python bindings are "
                "missing").format(op=OPERATION), file=sys.stderr)
        return 1
    if not models:
        print(_("No model is installed; give --model a model file"))
        return 0
    width = max(len(name) for name, *_rest in models)
    for name, label, path, is_default in models:
        print("{name}  {label}{default}\n{pad}  {path}".format(
            name=name.ljust(width), label=label,
            default=" " + _("(default)") if is_default else "", pad=" " * width, path=path))
    return 0


def model_argument(given):
    """What the procedure's "model" gets: a file that exists, made absolute
    (GIMP runs in another folder); otherwise the text, an installed
    model's name or title, which the operation resolves."""
    return os.path.abspath(given) if given and os.path.exists(given) else given


def whole_number(limits):
    """An argparse type: an integer within limits = (minimum, maximum, _)."""
    minimum, maximum = limits[0], limits[1]

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(_("{value} is not a whole number").format(value=text))
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                _("{value} is not from {minimum} to {maximum}").format(
                    value=value, minimum=minimum, maximum=maximum))
        return value
    return parse


def radius(text):
    """An argparse type: a blur radius in px within FOCUS_LIMITS."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{value} is not a number").format(value=text))
    if not FOCUS_LIMITS[0] <= value <= FOCUS_LIMITS[1]:
        raise argparse.ArgumentTypeError(
            _("{value} is not from {minimum} to {maximum}").format(
                value=text, minimum=FOCUS_LIMITS[0], maximum=FOCUS_LIMITS[1]))
    return value


def add_focus_options(parser):
    """The procedure's "Only where out of focus" arguments."""
    parser.add_argument("--only-out-of-focus", action="store_true",
                        help=_("deblur only where the model's defocus map finds the photo out "
                               "of focus (the model must have a defocus map)"))
    parser.add_argument("--focus-threshold", type=radius,
                        default=FOCUS_DEFAULTS["focus-threshold"], metavar="PX",
                        help=_("the blur radius (px) from which a pixel counts as out of focus"))
    parser.add_argument("--focus-feather", type=radius,
                        default=FOCUS_DEFAULTS["focus-feather"], metavar="PX",
                        help=_("the width (px) of the smooth transition around the threshold; "
                               "0 is a hard step"))


def add_option(parser, option):
    """--NAME for one option of the contract (NAME with dashes)."""
    flag = "--" + option["name"].replace("_", "-")
    if option["type"] == "int":
        limits = (option["minimum"], option["maximum"], option["default"])
        parser.add_argument(flag, type=whole_number(limits), default=option["default"],
                            metavar="N", help=_(option["description"]))
    elif option["type"] == "enum":
        parser.add_argument(flag, choices=[v["nick"] for v in option["values"]],
                            default=option["default"], help=_(option["description"]))
    elif option.get("installed_models"):
        parser.add_argument(flag, default=option["default"], metavar="NAME|FILE",
                            help=_("an installed model's name (see --list-models) or a "
                                   "TorchScript model file; empty uses the default model"))
    else:
        parser.add_argument(flag, default=option["default"], help=_(option["description"]))


def procedure_arguments(args):
    """The procedure's arguments (the operation's property names, with
    dashes) from the parsed options."""
    arguments = {}
    for option in OPTIONS:
        value = getattr(args, option["name"])
        if option.get("installed_models"):
            value = model_argument(value)
        arguments[option["name"].replace("_", "-")] = value
    arguments["only-out-of-focus"] = args.only_out_of_focus
    arguments["focus-threshold"] = args.focus_threshold
    arguments["focus-feather"] = args.focus_feather
    return arguments


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="fdikp-deblur-batch",
        description=_("Deblur photos with GIMP's Defocus Deblur filter; the results go to "
                      "OUTDIR under the same names."))
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=_("photos to deblur (file names or glob patterns)"))
    parser.add_argument("-o", "--output-dir", metavar="OUTDIR",
                        help=_("folder for the results (created if needed)"))
    parser.add_argument("--list-models", action="store_true",
                        help=_("list the installed models and exit"))
    for option in OPTIONS:
        add_option(parser, option)
    add_focus_options(parser)
    args = parser.parse_args(argv)
    if not args.list_models:
        if not args.files:
            parser.error(_("name at least one FILE to deblur"))
        if not args.output_dir:
            parser.error(_("-o/--output-dir is required"))
    return args


def main(argv):
    args = parse_args(argv)
    if args.list_models:
        return list_models()
    os.makedirs(args.output_dir, exist_ok=True)
    files = expand(args.files)
    failures = []
    jobs = []
    given = {}  # absolute path (what GIMP gets) -> the name the user gave
    for path in files:
        output = os.path.join(args.output_dir, os.path.basename(path))
        if not os.path.isfile(path):
            failures.append(path)
            print(_("[{index}/{total}] {file}: FAILED: no such file").format(
                index=len(jobs) + len(failures), total=len(files), file=path), flush=True)
        elif os.path.abspath(output) == os.path.abspath(path):
            failures.append(path)
            print(_("[{index}/{total}] {file}: FAILED: the output would overwrite the input")
                  .format(index=len(jobs) + len(failures), total=len(files), file=path),
                  flush=True)
        else:
            jobs.append((os.path.abspath(path), os.path.abspath(output)))
            given[os.path.abspath(path)] = path
            given[os.path.abspath(output)] = output

    with tempfile.TemporaryDirectory(prefix="fdikp-deblur-batch-") as tmp:
        results_path = os.path.join(tmp, "results.jsonl")
        job_path = os.path.join(tmp, "job.json")
        open(results_path, "w").close()
        with open(job_path, "w") as f:
            json.dump({
                "procedure": PROCEDURE,
                "files": jobs,
                "results": results_path,
                "arguments": procedure_arguments(args),
            }, f)
        done = {}
        if jobs:
            done = run_gimp(job_path, results_path, jobs, len(files) - len(jobs), len(files),
                            given)
        for src, _dst in jobs:
            if src not in done:
                failures.append(given[src])
                print(_("[{index}/{total}] {file}: FAILED: GIMP stopped before this file")
                      .format(index=len(files) - len(jobs) + len(done) + 1, total=len(files),
                              file=given[src]), flush=True)
            elif not done[src]:
                failures.append(given[src])

    if failures:
        print(_("{failed} of {total} files failed:").format(
            failed=len(failures), total=len(files)), file=sys.stderr)
        for path in failures:
            print("  " + path, file=sys.stderr)
        return 1
    print(_("{total} files deblurred into {folder}").format(
        total=len(files), folder=args.output_dir))
    return 0


def failure_text(record):
    """The message for a failed file; the plug-in's own messages come
    translated already, loaders often give none."""
    if record["stage"] == "load":
        return _("GIMP could not open the file ({error})").format(error=record["error"])
    if record["stage"] == "save":
        return _("GIMP could not write the result ({error})").format(error=record["error"])
    return record["error"]


def run_gimp(job_path, results_path, jobs, first_index, total, given):
    """Runs gimp-console on the job, printing a line per file as results
    arrive; returns {file: succeeded}."""
    env = dict(os.environ, FDIKP_BATCH_JOB=job_path)
    console = os.environ.get("GIMP_CONSOLE", "gimp-console-3.0")
    log = tempfile.TemporaryFile(mode="w+")
    gimp = subprocess.Popen(
        [console, "-i", "-n", "--batch-interpreter", "python-fu-eval", "-b", "-", "--quit"],
        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    gimp.stdin.write(GIMP_SIDE)
    gimp.stdin.close()
    done = {}
    pending = ""  # a line GIMP is still writing
    with open(results_path) as results:
        while True:
            finished = gimp.poll() is not None
            *lines, pending = (pending + results.read()).split("\n")
            for line in lines:
                record = json.loads(line)
                done[record["file"]] = record["ok"]
                index = first_index + len(done)
                if record["ok"]:
                    print(_("[{index}/{total}] {file} -> {output}: done in {seconds:.1f} s")
                          .format(index=index, total=total, file=given[record["file"]],
                                  output=given[record["output"]], seconds=record["seconds"]),
                          flush=True)
                else:
                    print(_("[{index}/{total}] {file}: FAILED: {error}")
                          .format(index=index, total=total, file=given[record["file"]],
                                  error=failure_text(record)), flush=True)
            if finished:
                break
            time.sleep(0.2)
    if gimp.returncode != 0 or len(done) < len(jobs):
        log.seek(0)
        sys.stderr.write(_("gimp-console exited with status {status}; its output:\n")
                         .format(status=gimp.returncode) + log.read())
    log.close()
    return done


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
