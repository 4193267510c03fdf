package quorumkv.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * The one small HTTP client that tests and tools use to talk to a quorumkv node: the key-value API,
 * {@code /status}, {@code /ready}, {@code /health}. Every call returns a {@link Response}; a
 * connection failure or timeout is status -1 with the exception's text as body, never an exception,
 * so callers that poll can treat "no answer" like any other answer.
 *
 * <p>One instance may be shared by many threads and nodes: it holds one {@link HttpClient}.
 */
public final class NodeClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** An HTTP answer: status and parsed JSON body (a text node if the body is not JSON). */
  public record Response(int status, JsonNode body) {
    public boolean ok() {
      return status == 200;
    }

    /** The body as text: what a non-JSON body said (or why there was no answer), else the JSON. */
    public String text() {
      return body.isTextual() ? body.asText() : body.toString();
    }

    /** True when the node answered at all (any HTTP status). */
    public boolean answered() {
      return status > 0;
    }

    @Override
    public String toString() {
      return status + " " + body;
    }
  }

  private final HttpClient http;
  private final Duration requestTimeout;

  public NodeClient(Duration requestTimeout) {
    this.requestTimeout = requestTimeout;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(requestTimeout.compareTo(Duration.ofSeconds(2)) < 0 ? requestTimeout : Duration.ofSeconds(2))
        .build();
  }

  /** PUT /kv/{key}; {@code w == null} uses the cluster's default quorum. */
  public Response put(URI node, String key, String value, Integer w) {
    return request(node, "PUT", "/kv/" + encode(key) + (w == null ? "" : "?w=" + w), value);
  }

  /** PUT /kv/{key}?w=..&timeout=..: the quorum to wait for, and for how long (e.g. "2s"). */
  public Response put(URI node, String key, String value, int w, String timeout) {
    return request(node, "PUT", "/kv/" + encode(key) + "?w=" + w + "&timeout=" + timeout, value);
  }

  /** GET /kv/{key}?consistency=.. (local, leader or linearizable). */
  public Response get(URI node, String key, String consistency) {
    return request(node, "GET", "/kv/" + encode(key) + "?consistency=" + consistency, null);
  }

  /** GET /kv/{key} at the node's default (local) consistency. */
  public Response get(URI node, String key) {
    return request(node, "GET", "/kv/" + encode(key), null);
  }

  /** GET /status; empty when the node does not answer 200. */
  public Optional<JsonNode> status(URI node) {
    Response r = request(node, "GET", "/status", null);
    return r.ok() ? Optional.of(r.body()) : Optional.empty();
  }

  /** GET /status, as a Response (for callers that report why a node gave none). */
  public Response statusResponse(URI node) {
    return request(node, "GET", "/status", null);
  }

  public boolean ready(URI node) {
    return request(node, "GET", "/ready", null).ok();
  }

  public boolean healthy(URI node) {
    return request(node, "GET", "/health", null).ok();
  }

  /** One request with the client's timeout. */
  public Response request(URI node, String method, String pathAndQuery, String body) {
    return request(node, method, pathAndQuery, body, requestTimeout);
  }

  /** One request; a connection failure or timeout is status -1 with the exception as body. */
  public Response request(URI node, String method, String pathAndQuery, String body, Duration timeout) {
    HttpRequest.Builder b = HttpRequest.newBuilder(resolve(node, pathAndQuery)).timeout(timeout);
    if (body != null) {
      b.method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
          .header("Content-Type", "text/plain; charset=UTF-8");
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Response(r.statusCode(), parse(r.body()));
    } catch (IOException e) {
      return new Response(-1, JSON.getNodeFactory().textNode(e.toString()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** The node's base URI joined with a path ("/kv/a?w=2"), whether or not the base ends in "/". */
  public static URI resolve(URI node, String pathAndQuery) {
    String base = node.toString();
    if (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    return URI.create(base + pathAndQuery);
  }

  /** A key as one path segment: URL-encoded, spaces as %20. */
  public static String encode(String key) {
    return URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static JsonNode parse(String body) {
    if (body == null || body.isEmpty()) {
      return JSON.getNodeFactory().textNode("");
    }
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      return JSON.getNodeFactory().textNode(body);
    }
  }
}
