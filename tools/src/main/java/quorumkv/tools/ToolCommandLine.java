package quorumkv.tools;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.IVersionProvider;

/**
 * How every tool reads its command line: picocli, with the conventions the hand-written parsers
 * had, so scripts keep working. A later {@code --nodes} overrides an earlier one ({@code ./kv}
 * puts the cluster's first, the user's own may follow), {@code --mode READ} equals
 * {@code --mode read}, and bad usage exits with status 2 (picocli's default) after the message
 * and the usage help.
 */
public final class ToolCommandLine {

  private ToolCommandLine() {
  }

  public static CommandLine of(Object command) {
    return new CommandLine(command)
        .setOverwrittenOptionsAllowed(true)
        .setCaseInsensitiveEnumValuesAllowed(true);
  }

  /** Runs the command and exits the JVM with its status. */
  public static void exit(Object command, String[] args) {
    System.exit(of(command).execute(args));
  }

  /** {@code --version}: the version Maven built this jar as. */
  public static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties build = new Properties();
      try (InputStream in = ToolCommandLine.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          build.load(in);
        }
      }
      return new String[] {"quorumkv tools " + build.getProperty("version", "(version unknown: not built by Maven)")};
    }
  }
}
