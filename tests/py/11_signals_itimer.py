"""signal.signal handlers: os.kill(os.getpid(), SIGUSR1), signal.pause
woken by a setitimer SIGALRM, interval timers counting ticks, SIG_IGN,
pthread_sigmask with sigpending, and sigwait."""
import os
import signal
import time

got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(signal.Signals(s).name))
os.kill(os.getpid(), signal.SIGUSR1)
print("handled", got)

ticks = []
signal.signal(signal.SIGALRM, lambda s, f: ticks.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05)
signal.pause()
print("pause woken by the timer, ticks", len(ticks))

signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
t0 = time.monotonic()
while len(ticks) < 6 and time.monotonic() - t0 < 3:
    signal.pause()
remaining, interval = signal.setitimer(signal.ITIMER_REAL, 0)
print("interval ticks reached 6", len(ticks) >= 6, "interval was", round(interval, 3))
print("getitimer after cancel", signal.getitimer(signal.ITIMER_REAL))

signal.signal(signal.SIGUSR2, signal.SIG_IGN)
os.kill(os.getpid(), signal.SIGUSR2)
print("ignored SIGUSR2, still here; handler is SIG_IGN", signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN)

old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("old mask had SIGUSR1", signal.SIGUSR1 in old)
got.clear()
os.kill(os.getpid(), signal.SIGUSR1)
print("blocked: pending", signal.SIGUSR1 in signal.sigpending(), "handled", got)
print("sigwait", signal.Signals(signal.sigwait({signal.SIGUSR1})).name, "handled", got)
os.kill(os.getpid(), signal.SIGUSR1)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
print("unblocked: handled", got)
info = None
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
signal.signal(signal.SIGUSR2, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGUSR2)
info = signal.sigtimedwait({signal.SIGUSR2}, 1)
print("sigtimedwait", signal.Signals(info.si_signo).name, "from me", info.si_pid == os.getpid())
print("sigtimedwait with nothing pending", signal.sigtimedwait({signal.SIGUSR2}, 0.05))
