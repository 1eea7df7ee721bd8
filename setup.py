"""Build the Cython kernels in gradlab_ext/.

Every ``gradlab_ext/*.pyx`` becomes an extension ``gradlab_ext.<name>``, compiled
with -O3 and OpenMP when the compiler supports it.  The extensions are optional:
if they fail to build, gradlab still installs and runs on its NumPy twins.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import numpy
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext


def compiler_supports_openmp(compiler_cmd):
    """Compile and link a tiny OpenMP program; True if that works."""
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = list(compiler_cmd) + ["-fopenmp", path, "-o", os.path.join(tmp, "t")]
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        cc = getattr(self.compiler, "compiler_so", None) or ["cc"]
        openmp = os.environ.get("GRADLAB_NO_OPENMP") != "1" and compiler_supports_openmp(cc[:1])
        print(f"gradlab: building kernels {'with' if openmp else 'without'} OpenMP")
        for ext in self.extensions:
            ext.extra_compile_args += ["-O3"] + (["-fopenmp"] if openmp else [])
            ext.extra_link_args += ["-fopenmp"] if openmp else []
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    exts = [
        Extension(
            "gradlab_ext." + os.path.splitext(os.path.basename(pyx))[0],
            [pyx],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            optional=True,
        )
        for pyx in sorted(glob.glob(os.path.join("gradlab_ext", "*.pyx")))
    ]
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
    packages=find_packages(include=["gradlab", "gradlab.*", "gradlab_ext"]),
)
