"""The kernels of gradlab_ext/ built a second time with -march=x86-64-v3 (AVX2, FMA).

Same sources, same functions, no files of their own: setup.py compiles each
gradlab_ext/<name>.pyx again as gradlab_ext.v3.<name>.  Import them only after
``gradlab_ext.v3._cpu.supports_v3()`` said yes (gradlab/kernels/__init__.py does).
"""
