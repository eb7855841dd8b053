/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall common/: running a program as a child (child.h).
 *
 * fork and exec rather than posix_spawn: the child needs its own process
 * group, a directory and added environment, and posix_spawn has no
 * portable chdir.  A close-on-exec pipe tells the parent whether the exec
 * happened, so a missing program is an error here, not a status 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "common/child.h"

#define POLL_NS (50 * 1000 * 1000)

static int
open_io (const struct lf_spawn_opts *o, int *in, int *out, int *err)
{
  *in = o->in > 0 ? o->in : open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (*in == -1) {
    lf_error (errno, "/dev/null: %m");
    return -1;
  }
  if (o->out > 0)
    *out = o->out;
  else if (o->out_path) {
    *out = open (o->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (*out == -1) {
      lf_error (errno, "%s: %m", o->out_path);
      return -1;
    }
  }
  else if ((*out = open ("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
    lf_error (errno, "/dev/null: %m");
    return -1;
  }
  *err = o->err > 0 ? o->err : *out;
  return 0;
}

/* In the child: only what is safe after fork, until the exec. */
static void __attribute__ ((noreturn))
child (char *const argv[], const struct lf_spawn_opts *o, int in, int out,
       int err, int report)
{
  sigset_t none;
  int e;

  setpgid (0, 0);
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  signal (SIGPIPE, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* dup2 clears close-on-exec on the copies; a descriptor already in its
   * place keeps it, so clear that by hand.
   */
  if ((in == 0 ? fcntl (0, F_SETFD, 0) : dup2 (in, 0)) == -1 ||
      (out == 1 ? fcntl (1, F_SETFD, 0) : dup2 (out, 1)) == -1 ||
      (err == 2 ? fcntl (2, F_SETFD, 0) : dup2 (err, 2)) == -1) {
    e = errno;
    goto fail;
  }
  if (o->cwd && chdir (o->cwd) == -1) {
    e = errno;
    if (o->who)
      dprintf (2, "%s: %s: %s\n", o->who, o->cwd, strerror (e));
    goto fail;
  }
  for (size_t i = 0; o->env && o->env[i]; i++)
    putenv (o->env[i]);
  const char *prog = o->prog ? o->prog : argv[0];
  if (o->search_path)
    execvp (prog, argv);
  else
    execv (prog, argv);
  e = errno;
  if (o->who)
    dprintf (2, "%s: cannot run %s: %s\n", o->who, prog, strerror (e));
 fail:
  if (!o->who)
    (void) !write (report, &e, sizeof e);
  _exit (127);
}

int
lf_spawn (struct lf_child *c, char *const argv[], const struct lf_spawn_opts *o)
{
  int in = -1, out = -1, err = -1, pipefd[2] = { -1, -1 }, ret = -1;
  pid_t pid;

  memset (c, 0, sizeof *c);
  if (open_io (o, &in, &out, &err) == -1)
    goto out;
  if (pipe2 (pipefd, O_CLOEXEC) == -1) {
    lf_error (errno, "pipe: %m");
    goto out;
  }
  if ((pid = fork ()) == -1) {
    lf_error (errno, "fork: %m");
    goto out;
  }
  if (pid == 0)
    child (argv, o, in, out, err, pipefd[1]);
  setpgid (pid, pid);           /* both sides: no race with a kill */
  close (pipefd[1]);
  pipefd[1] = -1;

  int e = 0;
  ssize_t n;
  while ((n = read (pipefd[0], &e, sizeof e)) == -1 && errno == EINTR)
    ;
  if (n == (ssize_t) sizeof e) {
    while (waitpid (pid, NULL, 0) == -1 && errno == EINTR)
      ;
    lf_error (e, "%s: %s", o->prog ? o->prog : argv[0], strerror (e));
    goto out;
  }
  c->pid = pid;
  c->started = lf_now ();
  c->deadline = o->timeout > 0 ? c->started + o->timeout : 0;
  c->grace = o->grace > 0 ? o->grace : LF_SPAWN_GRACE;
  c->forward_cancel = o->forward_cancel;
  ret = 0;
 out:
  if (in >= 0 && in != o->in)
    close (in);
  if (out >= 0 && out != o->out)
    close (out);
  for (int i = 0; i < 2; i++)
    if (pipefd[i] >= 0)
      close (pipefd[i]);
  return ret;
}

int
lf_child_poll (struct lf_child *c)
{
  int status;
  pid_t w;

  if (c->pid <= 0)
    return 1;
  while ((w = waitpid (c->pid, &status, WNOHANG)) == -1 && errno == EINTR)
    ;
  if (w == -1) {
    lf_error (errno, "waitpid: %m");
    return -1;
  }
  if (w == c->pid) {
    c->status = status;
    c->pid = 0;
    return 1;
  }
  double now = lf_now ();
  /* A cancel is passed on once, and not forced: a landfall child stops
   * cleanly at its own pace.
   */
  if (lf_cancel && c->forward_cancel && !c->cancelled) {
    c->cancelled = true;
    kill (-c->pid, SIGTERM);
  }
  if (c->deadline > 0 && now > c->deadline && c->term_at == 0) {
    c->timed_out = true;
    c->term_at = now;
    kill (-c->pid, SIGTERM);
  }
  else if (c->term_at > 0 && now > c->term_at + c->grace)
    kill (-c->pid, SIGKILL);
  return 0;
}

ssize_t
lf_child_wait_any (struct lf_child *const *cs, size_t n)
{
  if (n == 0)
    return -1;
  for (;;) {
    for (size_t i = 0; i < n; i++) {
      int r = lf_child_poll (cs[i]);
      if (r != 0)
        return r == 1 ? (ssize_t) i : -1;
    }
    struct timespec ts = { 0, POLL_NS };
    nanosleep (&ts, NULL);
  }
}

void
lf_child_stop (struct lf_child *c)
{
  if (c->pid <= 0)
    return;
  if (c->term_at == 0) {
    c->term_at = lf_now ();
    kill (-c->pid, SIGTERM);
  }
  c->deadline = 0;
  c->forward_cancel = false;
  struct lf_child *one = c;
  if (lf_child_wait_any (&one, 1) == -1 && c->pid > 0) {
    kill (-c->pid, SIGKILL);
    while (waitpid (c->pid, &c->status, 0) == -1 && errno == EINTR)
      ;
    c->pid = 0;
  }
}

int
lf_child_exit_code (const struct lf_child *c)
{
  return WIFEXITED (c->status) ? WEXITSTATUS (c->status)
    : 128 + WTERMSIG (c->status);
}

int
lf_spawn_run (char *const argv[], const struct lf_spawn_opts *o,
              bool *timed_out)
{
  struct lf_child c, *one = &c;

  if (timed_out)
    *timed_out = false;
  if (lf_spawn (&c, argv, o) == -1)
    return -1;
  if (lf_child_wait_any (&one, 1) == -1) {
    lf_child_stop (&c);
    return -1;
  }
  if (timed_out)
    *timed_out = c.timed_out;
  return lf_child_exit_code (&c);
}
