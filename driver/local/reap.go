package local

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// reap waits until cmd's process, started by this process, exits, reaps
// it and returns how it ended, as os.ProcessState.String says it ("exit
// status 2", "signal: killed"), and its exit code (-1 if a signal ended
// it).
//
// cmd.Wait would block an OS thread in waitid for the process's whole
// life, one per running child, and the Go runtime keeps every thread it
// ever made: a server that once ran 1,000 tenants holds 1,000 threads
// long after they are deleted. reap parks on the runtime's poller
// instead, on a pidfd, which reads ready once the process has exited,
// and reaps it by pid (a child not yet reaped keeps its pid); it falls
// back to cmd.Wait on a kernel without pidfd_open (before 5.3).
func reap(cmd *exec.Cmd) (string, int) {
	pid := cmd.Process.Pid
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return waitCmd(cmd)
	}
	// The Process's own pidfd would stay open, one more file per child,
	// until cmd.Wait: nothing else of it is used.
	cmd.Process.Release()
	pidfd := os.NewFile(uintptr(fd), "pidfd of "+strconv.Itoa(pid))
	defer pidfd.Close()
	var ws syscall.WaitStatus
	var werr error
	raw, err := pidfd.SyscallConn()
	if err == nil {
		// Read calls this now, and again each time the pidfd reads ready.
		err = raw.Read(func(uintptr) bool {
			var got int
			got, werr = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			return got == pid || werr != nil
		})
	}
	if err != nil {
		// The poller refused the pidfd: block this thread after all.
		_, werr = syscall.Wait4(pid, &ws, 0, nil)
	}
	if werr != nil {
		return "wait: " + werr.Error(), -1
	}
	return exitStatus(ws)
}

// waitCmd is reap with cmd.Wait.
func waitCmd(cmd *exec.Cmd) (string, int) {
	err := cmd.Wait()
	status, code := "exit status 0", -1
	if err != nil {
		status = err.Error()
	}
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return status, code
}

// exitStatus says how a process that ws describes ended, as
// os.ProcessState.String does, with its exit code (-1 after a signal).
func exitStatus(ws syscall.WaitStatus) (string, int) {
	status, code := "", -1
	switch {
	case ws.Exited():
		code = ws.ExitStatus()
		status = "exit status " + strconv.Itoa(code)
	case ws.Signaled():
		status = "signal: " + ws.Signal().String()
	}
	if ws.CoreDump() {
		status += " (core dumped)"
	}
	return status, code
}
