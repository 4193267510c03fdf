package quorumkv.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Short operating-system commands (ip, kill, bash) and files: run, wait with a timeout, collect output. */
final class OsCommands {
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** What a command did: its exit code, stdout and stderr together, and whether a soft timeout ended it. */
  record Result(int exit, String output, boolean timedOut) {}

  private OsCommands() {}

  /** Runs a command that must succeed (exit 0). */
  static Result runOk(List<String> command) {
    Result r = run(command, TIMEOUT, null);
    if (r.exit() != 0) {
      throw new IllegalStateException("`" + String.join(" ", command) + "` failed (exit " + r.exit() + "): "
          + r.output().strip());
    }
    return r;
  }

  static Result run(List<String> command) {
    return run(command, TIMEOUT, null);
  }

  /**
   * Runs a command, stdout and stderr together. Past {@code softTimeout} (if any) it is ended and
   * reported as timed out; past {@code timeout} (without a soft one) that is an error.
   */
  static Result run(List<String> command, Duration timeout, Duration softTimeout) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("LC_ALL", "C");
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not run " + command, e);
    }
    CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
      try (InputStream in = p.getInputStream()) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    });
    try {
      Duration wait = softTimeout != null ? softTimeout : timeout;
      if (!p.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        if (softTimeout == null) {
          throw new IllegalStateException("`" + String.join(" ", command) + "` did not finish within " + timeout);
        }
        return new Result(-1, output.getNow(""), true);
      }
      return new Result(p.exitValue(), output.get(5, TimeUnit.SECONDS), false);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    } catch (Exception e) {
      return new Result(p.exitValue(), "", false);
    }
  }

  /** The executable's path, from the PATH or the usual system directories. */
  static Optional<String> findExecutable(String name) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String d : dirs) {
      if (!d.isEmpty()) {
        Path p = Path.of(d, name);
        if (Files.isExecutable(p)) {
          return Optional.of(p.toString());
        }
      }
    }
    return Optional.empty();
  }

  /** Sends a signal ("-STOP", "-CONT") to a process with the {@code kill} command. */
  static void signal(long pid, String signal) {
    String kill = findExecutable("kill").orElseThrow(() -> new IllegalStateException("no `kill` command"));
    runOk(List.of(kill, signal, String.valueOf(pid)));
  }

  /** The effective uid, from /proc/self/status; -1 if unknown. */
  static long effectiveUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }
}
