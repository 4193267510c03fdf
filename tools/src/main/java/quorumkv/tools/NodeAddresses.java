package quorumkv.tools;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The HTTP addresses of the nodes a tool talks to, as given on the command line: full URLs, or
 * bare {@code host:port} pairs, which mean plain http. {@link #LOCAL} is the cluster {@code ./kv up}
 * starts on this machine.
 */
public record NodeAddresses(List<URI> uris) {

  public static final NodeAddresses LOCAL = new NodeAddresses(IntStream.rangeClosed(8000, 8005)
      .mapToObj(port -> URI.create("http://127.0.0.1:" + port))
      .toList());

  public NodeAddresses {
    uris = List.copyOf(uris);
  }

  /** A comma-separated list; empty items are skipped. */
  public static NodeAddresses parseList(String list) {
    List<URI> uris = new ArrayList<>();
    for (String node : list.split(",")) {
      if (!node.isBlank()) {
        uris.add(parseOne(node));
      }
    }
    if (uris.isEmpty()) {
      throw new IllegalArgumentException("needs at least one node, got '" + list + "'");
    }
    return new NodeAddresses(uris);
  }

  /** One node: an http(s) URL without a trailing slash, or host:port. */
  public static URI parseOne(String node) {
    String trimmed = node.trim().replaceAll("/+$", "");
    URI uri;
    try {
      uri = URI.create(trimmed.contains("://") ? trimmed : "http://" + trimmed);
    } catch (IllegalArgumentException malformed) {
      throw new IllegalArgumentException("not a URL: " + trimmed);
    }
    if (uri.getHost() == null || !List.of("http", "https").contains(uri.getScheme())) {
      throw new IllegalArgumentException("not an http URL: " + trimmed);
    }
    return uri;
  }

  /** {@code --nodes URL,URL,...} */
  static final class ListConverter implements ITypeConverter<NodeAddresses> {
    @Override
    public NodeAddresses convert(String list) {
      try {
        return parseList(list);
      } catch (IllegalArgumentException invalid) {
        throw new TypeConversionException(invalid.getMessage());
      }
    }
  }

  /** One node per command-line argument. */
  static final class UriConverter implements ITypeConverter<URI> {
    @Override
    public URI convert(String node) {
      try {
        return parseOne(node);
      } catch (IllegalArgumentException invalid) {
        throw new TypeConversionException(invalid.getMessage());
      }
    }
  }
}
