package quorumkv.http;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.http.KvRoutesTest.Node;
import quorumkv.http.KvRoutesTest.Reply;

/**
 * {@code GET /watch} over real HTTP against the one-node cluster of {@link KvRoutesTest}: every
 * bad input is a 4xx JSON error, a stream read in-process carries one event per entry in the
 * contract's shapes, resumes by Last-Event-ID, sends progress when idle, answers 410 below the
 * history, and a client that stops reading is disconnected with an error event.
 */
public class WatchRoutesTest {
  private static final String OVERRIDES = """
      quorumkv.watch.history = 20
      quorumkv.watch.progress-interval = 1s
      quorumkv.watch.stream-buffer = 8
      """;
  private static Node node;
  private static final ObjectMapper mapper = new ObjectMapper();
  private static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeClass
  public static void startNode() {
    node = Node.start("watch", OVERRIDES);
  }

  @AfterClass
  public static void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  record Event(String type, long id, JsonNode data) {}

  /** One SSE stream, its events parsed on a thread of its own as they arrive. */
  static final class Stream implements AutoCloseable {
    final HttpResponse<InputStream> response;
    final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Thread reader;

    Stream(String path, String lastEventId) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.base() + path));
      if (lastEventId != null) {
        b.header("Last-Event-ID", lastEventId);
      }
      response = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      reader = new Thread(this::read);
      reader.setDaemon(true);
      reader.start();
    }

    private void read() {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        String type = null;
        long id = -1;
        StringBuilder data = new StringBuilder();
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          if (line.isEmpty()) {
            if (data.length() > 0) {
              events.add(new Event(type == null ? "message" : type, id, mapper.readTree(data.toString())));
            }
            type = null;
            id = -1;
            data.setLength(0);
          } else if (line.startsWith("event:")) {
            type = line.substring(6).trim();
          } else if (line.startsWith("id:")) {
            id = Long.parseLong(line.substring(3).trim());
          } else if (line.startsWith("data:")) {
            data.append(line.substring(5).trim());
          }
        }
        events.add(new Event("eof", -1, null));
      } catch (Exception e) {
        events.add(new Event("eof", -1, null));
      }
    }

    Event next() throws InterruptedException {
      Event e = events.poll(20, TimeUnit.SECONDS);
      assertNotNull("an event within 20 s", e);
      return e;
    }

    /** The next event that is not a progress event. */
    Event nextChange() throws InterruptedException {
      Event e = next();
      while (e.type().equals("progress")) {
        e = next();
      }
      return e;
    }

    @Override
    public void close() throws Exception {
      response.body().close();
    }
  }

  private static long put(String key, String value) {
    Reply r = node.put("/kv/" + key.replace("/", "%2F"), value);
    assertEquals(r.toString(), 200, r.status);
    return r.body.get("version").asLong();
  }

  private static void assertRejected(Reply r, int status, String errorPart) {
    assertEquals(r.toString(), status, r.status);
    assertEquals(r.toString(), "application/json", r.contentType);
    assertTrue(r.toString(), r.body.get("error").asText().contains(errorPart));
  }

  @Test
  public void everyBadInputIsA4xxJsonError() {
    assertRejected(node.get("/watch"), 400, "exactly one of key");
    assertRejected(node.get("/watch?since=3"), 400, "exactly one of key");
    assertRejected(node.get("/watch?key=a&prefix=a"), 400, "exactly one of key");
    assertRejected(node.get("/watch?key="), 400, "key must not be empty");
    assertRejected(node.get("/watch?prefix=%FF"), 400, "'prefix' is not valid UTF-8");
    assertRejected(node.get("/watch?key=a&since=abc"), 400, "since must be a version");
    assertRejected(node.get("/watch?key=a&since=-1"), 400, "since must be a version");
    assertRejected(node.get("/watch?key=a&since=1.5"), 400, "since must be a version");
    assertRejected(node.get("/watch?key=a&since=99999999999999999999"), 400, "since must be a version");
    assertRejected(node.send("POST", "/watch?key=a", ""), 405, "");
    HttpRequest badHeader = HttpRequest.newBuilder(URI.create(node.base() + "/watch?key=a"))
        .header("Last-Event-ID", "x1").build();
    try {
      HttpResponse<String> r = http.send(badHeader, HttpResponse.BodyHandlers.ofString());
      assertEquals(r.body(), 400, r.statusCode());
      assertTrue(r.body(), mapper.readTree(r.body()).get("error").asText().contains("Last-Event-ID must be a version"));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  public void aStreamCarriesOneEventPerEntryAndResumesByLastEventId() throws Exception {
    try (Stream s = new Stream("/watch?prefix=w/", null)) {
      assertEquals(200, s.response.statusCode());
      assertTrue(s.response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
      long v1 = put("w/a", "1");
      put("elsewhere", "x");
      long v2 = node.send("DELETE", "/kv/w%2Fa", null).body.get("version").asLong();
      Reply txn = node.post("/txn", """
          {"compare": [], "success": [{"op": "put", "key": "w/b", "value": "2"}, {"op": "put", "key": "w/c", "value": "3"},
           {"op": "put", "key": "other", "value": "4"}]}""");
      long v3 = txn.body.get("version").asLong();
      long v4 = node.send("DELETE", "/kv?prefix=w/", null).body.get("version").asLong();

      Event e1 = s.nextChange();
      assertEquals("put", e1.type());
      assertEquals(v1, e1.id());
      assertEquals(mapper.readTree("{\"key\":\"w/a\",\"value\":\"1\",\"version\":" + v1 + "}"), e1.data());
      Event e2 = s.nextChange();
      assertEquals("delete", e2.type());
      assertEquals(mapper.readTree("{\"key\":\"w/a\",\"version\":" + v2 + "}"), e2.data());
      Event e3 = s.nextChange();
      assertEquals("txn", e3.type());
      assertEquals(v3, e3.id());
      assertEquals(mapper.readTree("{\"version\":" + v3 + ",\"changes\":[{\"type\":\"put\",\"key\":\"w/b\",\"value\":\"2\"},"
          + "{\"type\":\"put\",\"key\":\"w/c\",\"value\":\"3\"}]}"), e3.data());
      Event e4 = s.nextChange();
      assertEquals("txn", e4.type());
      assertEquals(v4, e4.id());
      assertEquals(2, e4.data().get("changes").size());

      // idle: a progress event at this node's applied index
      Event p = s.next();
      assertEquals("progress", p.type());
      assertTrue(p.id() >= v4);

      // a reconnect with Last-Event-ID = the first event's id gets the rest, and nothing else
      try (Stream resumed = new Stream("/watch?prefix=w/&since=0", Long.toString(v1))) {
        assertEquals(List.of(v2, v3, v4), List.of(resumed.nextChange().id(), resumed.nextChange().id(),
            resumed.nextChange().id()));
        long v5 = put("w/d", "5");
        assertEquals(v5, resumed.nextChange().id());
        assertEquals(v5, s.nextChange().id());
      }
    }
    String metrics = node.getText("/metrics")[2];
    assertTrue(metrics, metrics.contains("quorumkv_watch_events_sent_total"));
    // the closed streams are noticed at their next write (a progress event at the latest) and uncounted
    node.awaitCondition("no watch stream open", Duration.ofSeconds(20), () -> openStreams() == 0);
  }

  private static long openStreams() {
    return node.getText("/metrics")[2].lines().filter(l -> l.startsWith("quorumkv_watch_streams "))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  public void streamsWithDifferentFiltersEachGetTheirOwnPartOfOneEntry() throws Exception {
    // A rendered event is shared by the streams that take its entry whole; one that takes part of
    // the entry must still get only its part. Replayed one stream after the other, so each finds
    // what the one before rendered.
    long v = node.post("/txn", """
        {"compare": [], "success": [{"op": "put", "key": "s/x", "value": "1"}, {"op": "put", "key": "s/y", "value": "2"}]}""")
        .body.get("version").asLong();
    String since = "&since=" + (v - 1);
    try (Stream whole = new Stream("/watch?prefix=s/" + since, null)) {
      Event e = whole.nextChange();
      assertEquals("txn", e.type());
      assertEquals(2, e.data().get("changes").size());
    }
    try (Stream part = new Stream("/watch?key=s/x" + since, null)) {
      Event p = part.nextChange();
      assertEquals("put", p.type());
      assertEquals(mapper.readTree("{\"key\":\"s/x\",\"value\":\"1\",\"version\":" + v + "}"), p.data());
    }
    try (Stream wholeAgain = new Stream("/watch?prefix=s" + since, null)) {
      Event e = wholeAgain.nextChange();
      assertEquals("txn", e.type());
      assertEquals(v, e.id());
      assertEquals(2, e.data().get("changes").size());
    }
  }

  @Test
  public void aKeyWatchSeesOnlyItsKey() throws Exception {
    try (Stream s = new Stream("/watch?key=only", null)) {
      put("only2", "x");
      put("onl", "x");
      long v = put("only", "y");
      Event e = s.nextChange();
      assertEquals(v, e.id());
      assertEquals("y", e.data().get("value").asText());
    }
  }

  @Test
  public void aSinceOlderThanTheHistoryIs410() {
    for (int i = 0; i < 25; i++) {
      put("gone/k", Integer.toString(i));
    }
    Reply r = node.get("/watch?prefix=&since=0");
    assertRejected(r, 410, "no longer kept");
    long oldest = r.body.get("oldestVersion").asLong();
    assertTrue(r.toString(), oldest > 0);
    assertRejected(node.get("/watch?prefix=&since=" + (oldest - 1)), 410, "no longer kept");
  }

  @Test
  public void aClientThatStopsReadingIsDisconnectedWithAnErrorEvent() throws Exception {
    HttpResponse<InputStream> response = http.send(
        HttpRequest.newBuilder(URI.create(node.base() + "/watch?key=big")).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    String value = "x".repeat(60_000);
    long dropped = 0;
    for (int i = 0; i < 400 && dropped == 0; i++) {
      put("big", value + i);
      if (i % 20 == 19) {
        String metrics = node.getText("/metrics")[2];
        dropped = metrics.lines().filter(l -> l.startsWith("quorumkv_watch_streams_dropped_total"))
            .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
      }
    }
    assertTrue("the stream was dropped as too slow", dropped > 0);
    List<String> lines = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        lines.add(line.length() > 200 ? line.substring(0, 200) : line);
      }
    }
    List<String> tail = lines.subList(Math.max(0, lines.size() - 6), lines.size());
    assertTrue(tail.toString(), tail.stream().anyMatch(l -> l.replace(" ", "").equals("event:error")));
    assertTrue(tail.toString(), tail.stream().anyMatch(l -> l.contains("fell 8 events behind")));
  }
}
