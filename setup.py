"""Build the Cython kernels in gradlab_ext/.

Every ``gradlab_ext/*.pyx`` becomes an extension ``gradlab_ext.<name>``, compiled
with -O3 and OpenMP when the compiler supports it.  The extensions are optional:
if they fail to build, gradlab still installs and runs on its NumPy twins.

On x86-64 each .pyx is built a second time as ``gradlab_ext.v3.<name>`` with
``-march=x86-64-v3`` (AVX2, FMA: 8-wide float loops instead of SSE2's 4), from
the same source: Cython writes that copy's C file under build/v3/.  gradlab
imports those only on a CPU that has the features (``gradlab_ext/v3/_cpu.pyx``,
itself built for baseline x86-64, asks the CPU); the compiler decides here
whether the variant is built at all.  ``GRADLAB_NO_V3=1`` skips it.
"""
import glob
import os
import platform
import shutil
import subprocess
import tempfile

import numpy
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

# the x86-64-v3 level; the spelled-out features for compilers that lack the -march name
V3_FLAGS = (["-march=x86-64-v3"], ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mf16c", "-mlzcnt", "-mmovbe"])
V3_PREFIX = "gradlab_ext.v3."
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def compiles(compiler_cmd, flags, src="int main(void){return 0;}\n"):
    """Compile and link a tiny C program with these flags; True if that works."""
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = list(compiler_cmd) + list(flags) + [path, "-o", os.path.join(tmp, "t")]
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compiler_supports_openmp(compiler_cmd):
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    return compiles(compiler_cmd, ["-fopenmp"], src)


def v3_flags(compiler_cmd):
    """The first set of x86-64-v3 flags this compiler accepts, or None."""
    src = "#include <immintrin.h>\nint main(void){__m256 a = _mm256_set1_ps(1.f);" \
          "return (int)_mm256_cvtss_f32(_mm256_fmadd_ps(a, a, a));}\n"
    return next((flags for flags in V3_FLAGS if compiles(compiler_cmd, flags, src)), None)


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:       # twice the modules since the v3 copies: compile them on every core
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        cc = getattr(self.compiler, "compiler_so", None) or ["cc"]
        openmp = os.environ.get("GRADLAB_NO_OPENMP") != "1" and compiler_supports_openmp(cc[:1])
        print(f"gradlab: building kernels {'with' if openmp else 'without'} OpenMP")
        v3 = None
        if any(ext.name.startswith(V3_PREFIX) for ext in self.extensions):
            v3 = v3_flags(cc[:1]) if self.compiler.compiler_type == "unix" else None
            print(f"gradlab: x86-64-v3 kernels {'with ' + ' '.join(v3) if v3 else 'skipped: the compiler lacks the flags'}")
            if v3 is None:
                self.extensions = [ext for ext in self.extensions if not ext.name.startswith(V3_PREFIX)]
        for ext in self.extensions:
            ext.extra_compile_args += ["-O3"] + (["-fopenmp"] if openmp else [])
            ext.extra_link_args += ["-fopenmp"] if openmp else []
            if ext.name.startswith(V3_PREFIX) and ext.name != V3_PREFIX + "_cpu":
                ext.extra_compile_args += v3
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    headers = sorted(glob.glob(os.path.join("gradlab_ext", "*.h")))     # so that editing one recompiles

    def ext(name, pyx):
        return Extension(name, [pyx], include_dirs=[numpy.get_include(), "gradlab_ext"], depends=headers,
                         define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")], optional=True)

    options = dict(language_level=3,
                   compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True})
    kernels = sorted(glob.glob(os.path.join("gradlab_ext", "*.pyx")))
    names = [os.path.splitext(os.path.basename(pyx))[0] for pyx in kernels]
    exts = cythonize([ext("gradlab_ext." + n, pyx) for n, pyx in zip(names, kernels)], **options)
    if X86_64 and os.environ.get("GRADLAB_NO_V3") != "1":
        exts += cythonize([ext("gradlab_ext.v3._cpu", os.path.join("gradlab_ext", "v3", "_cpu.pyx"))], **options)
        # the same sources under another module name; build_dir keeps their C files apart from the baseline's
        exts += cythonize([ext(V3_PREFIX + n, pyx) for n, pyx in zip(names, kernels)],
                          build_dir=os.path.join("build", "v3"), **options)
    return exts


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
    packages=find_packages(include=["gradlab", "gradlab.*", "gradlab_ext", "gradlab_ext.*"]),
)
