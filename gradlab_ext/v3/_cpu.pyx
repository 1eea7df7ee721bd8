"""Can this CPU run the x86-64-v3 kernels (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE)?

This module alone in gradlab_ext/v3/ is compiled for baseline x86-64, like
gradlab_ext/*.so, so it imports on any CPU; the other modules here use AVX2
anywhere the compiler chose to, and one such instruction on a CPU without it
kills the process (SIGILL).  gradlab/kernels/__init__.py asks ``supports_v3()``
before importing them.
"""

cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    /* __builtin_cpu_supports reads cpuid once; for the AVX features it also asks the OS (xgetbv)
       whether it saves the 256-bit registers, so an OS or hypervisor that turned AVX off gives 0 */
    static int gl_cpu_v3(void) {
        __builtin_cpu_init();
    #if !defined(__clang__) && __GNUC__ >= 12
        return __builtin_cpu_supports("x86-64-v3") != 0;     /* the whole level, as -march means it */
    #else
        /* older compilers know no level names; every CPU with these four has the other v3 features */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    #endif
    }
    #else
    static int gl_cpu_v3(void) { return 0; }
    #endif
    """
    int gl_cpu_v3() noexcept nogil


def supports_v3():
    """True if this CPU (and the OS) can run code built with -march=x86-64-v3."""
    return bool(gl_cpu_v3())
