package quorumkv.tools;

import java.time.Duration;
import java.util.OptionalInt;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The closed-loop load options that {@code ./kv bench} and {@code ./kv analyze} share (a picocli
 * mixin). Their defaults are {@link WriteBench.Options#defaults()}; their validation is the
 * {@link WriteBench.Options} constructor's, reported as a usage error.
 */
final class LoadOptions {
  private static final WriteBench.Options DEFAULTS = WriteBench.Options.defaults();

  @Spec(Spec.Target.MIXEE)
  private CommandSpec command;

  @Option(names = "--nodes", paramLabel = "URL,URL,...", converter = NodeAddresses.ListConverter.class,
      description = {"Nodes to spread requests over, round-robin; a bare host:port means plain http.",
          "(default: http://127.0.0.1:8000 .. http://127.0.0.1:8005)"})
  NodeAddresses nodes = new NodeAddresses(DEFAULTS.nodes());

  @Option(names = "--writes", paramLabel = "N",
      description = "Requests per run: in total for bench, per W for analyze (default: ${DEFAULT-VALUE}).")
  int requests = DEFAULTS.requests();

  /** The old parser's other name for --writes, apt with --mode read; kept for scripts. */
  @Option(names = "--requests", paramLabel = "N", hidden = true)
  void requests(int requests) {
    this.requests = requests;
  }

  @Option(names = "--clients", paramLabel = "C",
      description = "Requests in flight at once, closed loop (default: ${DEFAULT-VALUE}).")
  int clients = DEFAULTS.clients();

  @Option(names = "--keys", paramLabel = "K", description = "Key i is bench-<i mod K> (default: ${DEFAULT-VALUE}).")
  int keys = DEFAULTS.keys();

  @Option(names = "--value-size", paramLabel = "B", description = "Bytes per written value (default: ${DEFAULT-VALUE}).")
  int valueSizeBytes = DEFAULTS.valueSizeBytes();

  @Option(names = "--timeout-ms", paramLabel = "MS", description = "Per-request timeout (default: ${DEFAULT-VALUE}).")
  long timeoutMs = DEFAULTS.requestTimeout().toMillis();

  @Option(names = "--quiet", description = "No progress bar on stderr.")
  boolean quiet;

  /** The benchmark's options, or a usage error naming the option that is out of range. */
  WriteBench.Options toOptions(WriteBench.Mode mode, OptionalInt writeQuorum) {
    try {
      return new WriteBench.Options(nodes.uris(), mode, requests, clients, writeQuorum, keys, valueSizeBytes,
          Duration.ofMillis(timeoutMs), !quiet);
    } catch (IllegalArgumentException outOfRange) {
      throw new ParameterException(command.commandLine(), outOfRange.getMessage());
    }
  }
}
