// Preloaded (LD_PRELOAD) into a process so that it runs the AVX2 code paths of libraries that choose
// their kernels from CPUID at run time (ONNX Runtime's MLAS, libvips, V8): the AVX2-only CPUs of
// issue 4's reference machines (AMD EPYC Zen 3), measured on a host that has more.
//
// Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID, /proc/cpuinfo flag cpuid_fault) makes every
// CPUID instruction of the process raise SIGSEGV. The handler executes the real CPUID with faulting
// briefly off, clears the AVX-512, VNNI (AVX-512 and AVX-VNNI) and AMX feature bits, and resumes
// after the instruction. The setting is per thread and inherited by threads created later, so it is
// switched on in a constructor, before the process starts any.
//
// Node resets every signal disposition at start and V8 installs a SIGSEGV handler of its own, so
// sigaction() and signal() are interposed for SIGSEGV: the process's handler is recorded and called
// for every fault that is not a CPUID, while this one stays installed.
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction;
static struct sigaction process_handler; // what the process believes is installed for SIGSEGV

static void set_cpuid_faulting(int on) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

// Leaf 7 subleaf 0: EBX AVX512F/DQ/IFMA/PF/ER/CD/BW/VL; ECX AVX512_VBMI/VBMI2/VNNI/BITALG/VPOPCNTDQ;
// EDX AVX512_4VNNIW/4FMAPS/VP2INTERSECT, AMX-BF16, AVX512_FP16, AMX-TILE, AMX-INT8.
// Leaf 7 subleaf 1: EAX AVX-VNNI, AVX512_BF16, AVX-IFMA.
#define BIT(n) (1u << (n))
static const unsigned LEAF7_EBX = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
static const unsigned LEAF7_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const unsigned LEAF7_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
static const unsigned LEAF7_1_EAX = BIT(4) | BIT(5) | BIT(23);

static void pass_on(int sig, siginfo_t *info, void *context) {
  if (process_handler.sa_flags & SA_SIGINFO) {
    process_handler.sa_sigaction(sig, info, context);
  } else if (process_handler.sa_handler == SIG_DFL) {
    // returning re-executes the faulting instruction, which now gets the default action
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    real_sigaction(SIGSEGV, &fallback, 0);
  } else if (process_handler.sa_handler != SIG_IGN) {
    process_handler.sa_handler(sig);
  }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
  greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
  if (info->si_code != SI_KERNEL || ip[0] != 0x0f || ip[1] != 0xa2) {
    pass_on(sig, info, context);
    return;
  }
  unsigned leaf = (unsigned)regs[REG_RAX], subleaf = (unsigned)regs[REG_RCX];
  unsigned a, b, c, d;
  set_cpuid_faulting(0);
  __cpuid_count(leaf, subleaf, a, b, c, d);
  set_cpuid_faulting(1);
  if (leaf == 7 && subleaf == 0) {
    b &= ~LEAF7_EBX;
    c &= ~LEAF7_ECX;
    d &= ~LEAF7_EDX;
  } else if (leaf == 7 && subleaf == 1) {
    a &= ~LEAF7_1_EAX;
  }
  regs[REG_RAX] = a;
  regs[REG_RBX] = b;
  regs[REG_RCX] = c;
  regs[REG_RDX] = d;
  regs[REG_RIP] += 2;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  // another library's constructor may run before this one's
  if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  if (sig != SIGSEGV) return real_sigaction(sig, act, old);
  if (old) *old = process_handler;
  if (act) process_handler = *act;
  return 0;
}

__sighandler_t signal(int sig, __sighandler_t handler) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

__attribute__((constructor)) static void start(void) {
  if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  struct sigaction own;
  memset(&own, 0, sizeof own);
  own.sa_sigaction = on_segv;
  own.sa_flags = SA_SIGINFO | SA_NODEFER;
  real_sigaction(SIGSEGV, &own, 0);
  set_cpuid_faulting(1);
}
