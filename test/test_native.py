"""The compiled decoder core: found, built the three ways users build it, and replaced by the
numpy reference, with a warning, where it is missing or broken."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from litepose_ros import native
from litepose_ros.common.keypoints import COCO
from litepose_ros.decoding import DecoderConfig, decoder_status
from litepose_ros.decoding.reference import decode_reference
from litepose_testing.synthetic import synthesize_outputs

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / "litepose_ros" / "native" / "build.py"

# Decodes one synthetic frame with `decode` and the reference, prints what the process used.
PROBE = r"""
import json, sys
import numpy as np
from litepose_ros import native
from litepose_ros.decoding import DecoderConfig, decode, decoder_status, warn_if_slow
from litepose_ros.decoding.reference import decode_reference
from litepose_testing.synthetic import synthesize_outputs
from litepose_ros.common.keypoints import COCO
rng = np.random.RandomState(3)
people = np.concatenate([rng.uniform(10, 90, (3, 17, 2)), np.ones((3, 17, 1))], axis=2)
outputs = synthesize_outputs(people, (96, 96), tags=[1.0, 3.0, 5.0], rng=rng, heat_noise=0.05)
config = DecoderConfig.from_keypoint_set(COCO, project_to_input=True)
ours, ref = decode(outputs, config), decode_reference(outputs, config)
warn_if_slow()
print(json.dumps({"decoder": decoder_status()[0], "warning": decoder_status()[1],
                  "library": native.loaded_path(), "people": len(ours),
                  "same": bool(np.array_equal(ours.keypoints, ref.keypoints))}))
"""


def probe(env_changes: dict, cwd: Path = REPO_ROOT, pythonpath: str = "") -> dict:
    env = dict(os.environ)
    env.pop("LITEPOSE_DECODER", None)
    env.update(env_changes)
    if pythonpath:  # the installed litepose_ros first; the test data from the checkout (no install has it)
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, str(REPO_ROOT)])
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["stderr"] = result.stderr
    return report


def test_the_compiled_core_is_what_decodes_here() -> None:
    """The test command builds the core (scripts/setup_env.sh): the decoder must be it."""
    name, warning = decoder_status()
    assert name.startswith("compiled"), warning
    assert warning is None
    assert native.load().lp_abi_version() == native.ABI_VERSION


def test_missing_core_falls_back_to_the_reference_with_one_warning() -> None:
    report = probe({native.ENV_LIBRARY: "/nonexistent/_litepose_native.so"})
    assert report["decoder"] == "reference (numpy)" and report["library"] is None
    assert "/nonexistent/_litepose_native.so" in report["warning"] and "numpy reference" in report["warning"]
    assert report["people"] >= 3 and report["same"]
    warnings = [line for line in report["stderr"].splitlines() if "compiled core unavailable" in line]
    assert len(warnings) == 1, report["stderr"]


def test_the_reference_can_be_forced() -> None:
    """LITEPOSE_DECODER=reference (a debugging switch) decodes with the reference where the core
    is built, and says so once."""
    report = probe({"LITEPOSE_DECODER": "reference"})
    assert report["decoder"] == "reference (numpy)" and report["library"] is None
    assert "LITEPOSE_DECODER=reference" in report["warning"]
    assert report["people"] >= 3 and report["same"]
    assert sum("LITEPOSE_DECODER=reference" in line for line in report["stderr"].splitlines()) == 1


def test_a_corrupt_library_is_reported_not_loaded(tmp_path: Path) -> None:
    broken = tmp_path / "_litepose_native.so"
    broken.write_bytes(b"\x7fELF this is not a shared library")
    report = probe({native.ENV_LIBRARY: str(broken)})
    assert report["decoder"] == "reference (numpy)"
    assert str(broken) in report["warning"]
    assert report["same"]


def test_build_script_builds_a_core_that_decodes_like_the_reference(tmp_path: Path) -> None:
    output = tmp_path / "lib" / "_litepose_native.so"
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--output", str(output)], check=True, timeout=120)
    first = output.stat().st_mtime_ns
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--output", str(output)], check=True, timeout=120)
    assert output.stat().st_mtime_ns == first, "an up-to-date library was rebuilt"
    report = probe({native.ENV_LIBRARY: str(output)})
    assert report["decoder"].startswith("compiled") and report["library"] == str(output)
    assert report["people"] >= 3 and report["same"] and report["warning"] is None


def test_plain_c_build_without_simd_decodes_the_same(tmp_path: Path) -> None:
    """The SSE / NEON loops have a plain C fallback for other CPUs: it finds the same people."""
    output = tmp_path / "_litepose_native.so"
    env = dict(os.environ, CC="cc -DLP_NO_SIMD")
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--output", str(output)], check=True, timeout=120, env=env)
    report = probe({native.ENV_LIBRARY: str(output)})
    assert report["decoder"].startswith("compiled") and report["same"] and report["people"] >= 3


def test_build_script_reports_a_missing_compiler(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--cc", "no-such-cc", "--output",
                             str(tmp_path / "x.so"), "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode != 0 and "native build failed" in result.stderr
    assert not (tmp_path / "x.so").exists()


def test_pip_wheel_carries_the_core(tmp_path: Path) -> None:
    """`pip install` builds the same source (setup.py) into the package, where the loader finds it."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO_ROOT),
                    "-w", str(tmp_path / "wheel")], check=True, timeout=300, stdout=subprocess.DEVNULL)
    wheel = next((tmp_path / "wheel").glob("litepose_ros-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, timeout=300, stdout=subprocess.DEVNULL)
    report = probe({}, cwd=tmp_path, pythonpath=str(tmp_path / "site"))
    assert report["library"].startswith(str(tmp_path / "site" / "litepose_ros" / "native"))
    assert report["decoder"].startswith("compiled") and report["same"]


def test_decoding_the_same_frame_twice_reuses_state() -> None:
    """The native workspace is kept between frames: a large frame, then a small one, then the
    large one again, each equal to the reference."""
    from litepose_ros.decoding.compiled import decode

    config = DecoderConfig.from_keypoint_set(COCO)
    rng = np.random.RandomState(1)
    frames = []
    for size in ((256, 192), (64, 48)):
        people = np.concatenate([rng.uniform(8, min(size) - 8, (4, 17, 2)), np.ones((4, 17, 1))], axis=2)
        frames.append(synthesize_outputs(people, size, tags=[1.0, 3.0, 5.0, 7.0], rng=rng, heat_noise=0.05))
    for outputs in frames + frames[:1]:
        ours, ref = decode(outputs, config), decode_reference(outputs, config)
        assert len(ours) >= 4
        np.testing.assert_array_equal(ours.keypoints, ref.keypoints)


def test_threads_find_the_same_people() -> None:
    """The per-joint steps run in threads; every thread count gives the same people, bit for bit."""
    from litepose_ros.decoding import compiled

    rng = np.random.RandomState(8)
    default = compiled.set_threads(0)  # 0 leaves it as it is
    cases = []
    for project, flip in ((False, False), (True, True)):
        config = DecoderConfig.from_keypoint_set(COCO, project_to_input=project)
        people = np.concatenate([rng.uniform(8, 248, (12, 17, 2)), rng.uniform(size=(12, 17, 1)) > 0.2], axis=2)
        outputs = synthesize_outputs(people, (256, 256), tags=np.arange(12) * 1.7, rng=rng, heat_noise=0.05)
        flipped = synthesize_outputs(people[:, COCO.flip_index] * [-1, 1, 1] + [256, 0, 0], (256, 256),
                                     tags=np.arange(12) * 1.7, rng=rng, heat_noise=0.05) if flip else None
        cases.append((outputs, flipped, config))
    try:
        for outputs, flipped, config in cases:
            results = []
            for threads in (1, 2, 3):
                assert compiled.set_threads(threads) == threads
                results.append(compiled.decode(outputs, config, flipped))
            assert len(results[0]) >= 10
            for other in results[1:]:
                np.testing.assert_array_equal(other.keypoints, results[0].keypoints)
                np.testing.assert_array_equal(other.scores, results[0].scores)
            np.testing.assert_array_equal(results[0].keypoints, decode_reference(outputs, config, flipped).keypoints)
    finally:
        compiled.set_threads(default)


@pytest.mark.skipif(not (REPO_ROOT / ".venv" / "share" / "ament_cmake").is_dir(),
                    reason="needs the ROS 2 CMake packages of the development venv (scripts/setup_env.sh)")
def test_cmake_install_places_the_core_beside_the_sources(tmp_path: Path) -> None:
    """What `colcon build` does on a robot: the package's CMakeLists.txt configured, built and
    installed with the Python sources; the installed package decodes with the installed core."""
    venv = REPO_ROOT / ".venv"
    source = tmp_path / "src" / "litepose_ros"  # outside the checkout, as in a colcon workspace
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=str(REPO_ROOT), check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    for name in files:
        if not name.startswith(".venv") and (REPO_ROOT / name).is_file() and not name.endswith(".so"):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO_ROOT / name).read_bytes())
    env = dict(os.environ, AMENT_PREFIX_PATH=str(venv))
    build, prefix = tmp_path / "build", tmp_path / "install"
    steps = [
        ["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_PREFIX_PATH=" + str(venv),
         "-DCMAKE_INSTALL_PREFIX=" + str(prefix), "-DBUILD_TESTING=OFF", "-DPython3_EXECUTABLE=" + sys.executable,
         "-DPYTHON_INSTALL_DIR=lib/python3/site-packages"],
        ["cmake", "--build", str(build), "-j2"],
        ["cmake", "--install", str(build)],
    ]
    for step in steps:
        result = subprocess.run(step, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:]
    site = prefix / "lib" / "python3" / "site-packages"
    assert (site / "litepose_ros" / "native" / "_litepose_native.so").is_file()
    report = probe({}, cwd=tmp_path, pythonpath=str(site))
    assert report["library"] == str(site / "litepose_ros" / "native" / "_litepose_native.so")
    assert report["decoder"].startswith("compiled") and report["same"]


def test_the_python_declaration_matches_the_compiled_layout() -> None:
    from litepose_ros.native import abi

    assert abi.library_layout(native.load()) == abi.expected_layout()


def test_a_mismatched_struct_declaration_is_refused() -> None:
    """Python side out of step (a field's type changed in abi.py only): refused at load."""
    import ctypes

    from litepose_ros.native import abi

    fields = [(name, ctypes.c_float if name == "tag_threshold" else kind) for name, kind in abi.LpConfig._fields_]
    stale = type("StaleConfig", (ctypes.Structure,), {"_fields_": fields})
    with pytest.raises(OSError, match="lp_config layout differs"):
        abi.check(native.load(), "the library", stale)
    abi.check(native.load(), "the library")  # the real declaration passes


def test_a_library_with_another_struct_layout_falls_back_with_one_warning(tmp_path: Path) -> None:
    """C side out of step (a library built from a source whose lp_config differs): the loader
    refuses it and the decoder falls back to the reference, with one warning naming the layout."""
    copy = tmp_path / "native"
    copy.mkdir()
    changed = 0
    for source in BUILD_SCRIPT.parent.iterdir():
        if source.suffix in (".c", ".h", ".py", ".txt", ".json"):
            text = source.read_text()
            if "    double tag_threshold;" in text:
                text = text.replace("    double tag_threshold;", "    float tag_threshold;")
                changed += 1
            (copy / source.name).write_text(text)
    assert changed == 1, "lp_config's declaration not found in the C sources"
    output = tmp_path / "_litepose_native.so"
    subprocess.run([sys.executable, str(copy / "build.py"), "--output", str(output)], check=True, timeout=120)
    report = probe({native.ENV_LIBRARY: str(output)})
    assert report["decoder"] == "reference (numpy)" and report["library"] is None
    assert "lp_config layout differs" in report["warning"] and str(output) in report["warning"]
    assert report["same"] and report["people"] >= 3
    warnings = [line for line in report["stderr"].splitlines() if "compiled core unavailable" in line]
    assert len(warnings) == 1, report["stderr"]


def _settings() -> dict:
    import runpy

    return runpy.run_path(str(BUILD_SCRIPT))["read_settings"]()


# Prints the compiled-core Extension that setup.py would build, without building anything.
SETUP_PROBE = r"""
import json, runpy, setuptools
captured = {}
setuptools.setup = lambda **kwargs: captured.update(kwargs)
runpy.run_path("setup.py", run_name="__main__")
(core,) = captured["ext_modules"]
print(json.dumps({"sources": core.sources, "cflags": core.extra_compile_args, "libraries": core.libraries}))
"""


def test_build_script_and_setup_take_sources_and_flags_from_the_settings_file() -> None:
    import runpy

    settings = _settings()
    assert "-ffp-contract=off" in settings["cflags"] and settings["sources"]
    script = runpy.run_path(str(BUILD_SCRIPT))
    assert (script["SOURCES"], script["CFLAGS"], script["LIBRARIES"]) == (
        settings["sources"], settings["cflags"], settings["libraries"])
    result = subprocess.run([sys.executable, "-c", SETUP_PROBE], cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
                            universal_newlines=True, check=True, timeout=120)
    core = json.loads(result.stdout.strip().splitlines()[-1])
    assert core["sources"] == [os.path.join("litepose_ros", "native", name) for name in settings["sources"]]
    assert core["cflags"] == [flag for flag in settings["cflags"] if flag != "-fPIC"]  # setuptools adds -fPIC
    assert core["libraries"] == settings["libraries"]


def test_no_build_file_keeps_its_own_copy_of_the_flags() -> None:
    for name in ("setup.py", "CMakeLists.txt", "litepose_ros/native/native.cmake", "litepose_ros/native/build.py"):
        text = (REPO_ROOT / name).read_text()
        assert "-ffp-contract" not in text and "decoder.c" not in text, name
    assert "include(litepose_ros/native/native.cmake)" in (REPO_ROOT / "CMakeLists.txt").read_text()


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
def test_cmake_compiles_every_source_with_the_settings_flags(tmp_path: Path) -> None:
    """native.cmake (what CMakeLists.txt includes for colcon) as CMake sees it: its compile
    commands name every source of the settings file with every flag, in order; and the library
    it builds decodes like the reference."""
    settings = _settings()
    project = tmp_path / "project"
    project.mkdir()
    include = (BUILD_SCRIPT.parent / "native.cmake").as_posix()
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.8)\nproject(probe C)\ninclude({})\n".format(include))
    build = tmp_path / "build"
    for step in (["cmake", "-S", str(project), "-B", str(build), "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
                 ["cmake", "--build", str(build)]):
        result = subprocess.run(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout[-3000:]
    commands = json.loads((build / "compile_commands.json").read_text())
    compiled = sorted(Path(entry["file"]).name for entry in commands)
    assert compiled == sorted(settings["sources"])
    for entry in commands:
        assert " {} ".format(" ".join(settings["cflags"])) in " {} ".format(entry["command"]), entry["command"]
    report = probe({native.ENV_LIBRARY: str(build / "_litepose_native.so")})
    assert report["decoder"].startswith("compiled") and report["same"] and report["people"] >= 3
