package quorumkv.http;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.http.javadsl.marshalling.sse.EventStreamMarshalling;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.javadsl.model.sse.ServerSentEvent;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.Route;
import akka.japi.Pair;
import akka.japi.pf.PFBuilder;
import akka.stream.BoundedSourceQueue;
import akka.stream.QueueOfferResult;
import akka.stream.javadsl.Source;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import quorumkv.config.Settings;
import quorumkv.metrics.Metrics;
import quorumkv.replication.ReplicaView;
import quorumkv.storage.EntryChanges;
import quorumkv.storage.KeyChange;
import quorumkv.watch.HistoryGone;
import quorumkv.watch.WatchEvent;
import quorumkv.watch.WatchFilter;
import quorumkv.watch.WatchHistory;

/**
 * {@code GET /watch?key=K} or {@code ?prefix=P}, with {@code since=V} or {@code Last-Event-ID}: a
 * Server-Sent Events stream of the changes this node's replica applies, one event per log entry,
 * served from this node's own {@link WatchHistory}. Each stream has a bounded queue: a client that
 * falls {@code WATCH_STREAM_BUFFER} events behind is sent an {@code error} event and disconnected.
 */
final class WatchRoutes extends AllDirectives {
  static final String LAST_EVENT_ID = "Last-Event-ID";

  /** Why a stream ended early; its message becomes the final {@code error} event. */
  static final class WatchEnded extends RuntimeException {
    WatchEnded(String message) {
      super(message, null, false, false);
    }
  }

  private final Settings settings;
  private final ActorSystem<?> system;
  private final ReplicaView view;
  private final RequestLimits limits;
  private final Metrics metrics;
  private final ObjectMapper mapper = new ObjectMapper();
  /**
   * The last entries' events as rendered, by version modulo the size: every stream whose filter
   * takes an entry whole is given the very same {@link EntryChanges}, so N streams render its JSON
   * once, not N times. A slot is used only for that same object (a stream that sees part of an
   * entry renders its own), and a stream further behind than the ring renders again.
   */
  private final AtomicReferenceArray<Rendered> rendered = new AtomicReferenceArray<>(RENDERED_SLOTS);
  private static final int RENDERED_SLOTS = 1024;

  private record Rendered(EntryChanges changes, ServerSentEvent event) {}

  WatchRoutes(Settings settings, ActorSystem<?> system, ReplicaView view, RequestLimits limits) {
    this.settings = settings;
    this.system = system;
    this.view = view;
    this.limits = limits;
    this.metrics = Metrics.get(system);
  }

  Route watch() {
    return extractUri(uri -> {
      RequestLimits.requireUtf8Query(uri.query().toList(), uri.rawQueryString());
      return watchFiltered();
    });
  }

  private Route watchFiltered() {
    return parameterOptional("key", k -> parameterOptional("prefix", p -> parameterOptional("since", s ->
        optionalHeaderValueByName(LAST_EVENT_ID, lastEventId -> {
          WatchFilter filter = filter(k, p);
          OptionalLong since = lastEventId.isPresent() ? version(LAST_EVENT_ID, lastEventId.get())
              : s.isPresent() ? version("since", s.get()) : OptionalLong.empty();
          Optional<WatchHistory> history = view.watchHistory();
          if (history.isEmpty() || view.state().isEmpty()) {
            return json(StatusCodes.SERVICE_UNAVAILABLE, Map.of("error",
                "this node's replica has not recovered yet, or keeps no watch history; retry shortly"));
          }
          return stream(history.get(), filter, since);
        }))));
  }

  private WatchFilter filter(Optional<String> key, Optional<String> prefix) {
    if (key.isPresent() == prefix.isPresent()) {
      throw new InvalidRequest("watch needs exactly one of key=K (one key) and prefix=P (every key under P; "
          + "prefix= for all keys)");
    }
    return key.isPresent() ? WatchFilter.key(limits.key(key.get())) : WatchFilter.prefix(limits.prefix(prefix));
  }

  private static OptionalLong version(String name, String text) {
    String t = text.trim();
    if (!t.matches("[0-9]{1,18}")) {
      throw new InvalidRequest(name + " must be a version (a non-negative integer, the id of the last event "
          + "seen), got '" + (t.length() > 40 ? t.substring(0, 40) + "..." : t) + "'");
    }
    return OptionalLong.of(Long.parseLong(t));
  }

  private Route stream(WatchHistory history, WatchFilter filter, OptionalLong since) {
    int buffer = settings.watch().streamBuffer();
    Pair<BoundedSourceQueue<WatchEvent>, Source<WatchEvent, NotUsed>> queue =
        Source.<WatchEvent>queue(buffer).preMaterialize(system);
    BoundedSourceQueue<WatchEvent> live = queue.first();
    WatchHistory.Subscription subscription;
    try {
      subscription = history.subscribe(filter, since, new WatchHistory.Watcher() {
        @Override
        public boolean offer(WatchEvent event) {
          QueueOfferResult result = live.offer(event);
          if (result.equals(QueueOfferResult.enqueued())) {
            return true;
          }
          if (result.equals(QueueOfferResult.dropped())) {
            metrics.watchDropped();
            live.fail(new WatchEnded("this watcher fell " + buffer + " events behind the changes on "
                + settings.nodeId() + " (WATCH_STREAM_BUFFER) and was disconnected; reconnect with Last-Event-ID "
                + "(the id of the last event received) to resume"));
          }
          return false;
        }

        @Override
        public void end(String reason) {
          live.fail(new WatchEnded(reason + "; reconnect with Last-Event-ID to resume if still possible"));
        }
      });
    } catch (HistoryGone gone) {
      live.complete();
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("error", "changes after version " + gone.since() + " are no longer kept on " + settings.nodeId()
          + ": its watch history starts after version " + gone.oldestVersion()
          + " (it keeps WATCH_HISTORY / WATCH_HISTORY_BYTES of them, and none from before a full state transfer it"
          + " caught up by); each node keeps its own: another one may still have them, or read the current state"
          + " and watch from its X-Quorumkv-Index");
      body.put("oldestVersion", gone.oldestVersion());
      return json(StatusCodes.GONE, body);
    }
    Source<ServerSentEvent, NotUsed> events = Source.from(subscription.replay())
        .concat(queue.second())
        .map(this::sse)
        .recover(new PFBuilder<Throwable, ServerSentEvent>()
            .match(WatchEnded.class, e -> ServerSentEvent.create(toJson(Map.of("error", e.getMessage())), "error"))
            .build())
        .map(e -> {
          metrics.watchEventSent();
          return e;
        })
        .mapMaterializedValue(m -> {
          metrics.watchOpened();
          return m;
        })
        .watchTermination((m, done) -> {
          done.whenCompleteAsync((d, failure) -> { // Akka's stage would start a thread for it (see KvRoutes)
            metrics.watchClosed();
            subscription.cancel().run();
          }, system.executionContext());
          return m;
        });
    return respondWithHeader(RawHeader.create(KvRoutes.INDEX_HEADER, Long.toString(subscription.startAfter())),
        () -> completeOK(events, EventStreamMarshalling.toEventStream()));
  }

  private ServerSentEvent sse(WatchEvent event) {
    String id = Long.toString(event.id());
    if (event instanceof WatchEvent.Progress p) {
      return ServerSentEvent.create(toJson(Map.of("index", p.index())), "progress", id);
    }
    EntryChanges changes = ((WatchEvent.Changed) event).changes();
    int slot = (int) (changes.version() & (RENDERED_SLOTS - 1));
    Rendered cached = rendered.get(slot);
    if (cached != null && cached.changes() == changes) {
      return cached.event();
    }
    ServerSentEvent sse = render(changes, id);
    rendered.set(slot, new Rendered(changes, sse));
    return sse;
  }

  private ServerSentEvent render(EntryChanges changes, String id) {
    if (changes.changes().size() == 1) {
      KeyChange c = changes.changes().get(0);
      Map<String, Object> data = new LinkedHashMap<>();
      data.put("key", c.key());
      if (!c.isDelete()) {
        data.put("value", c.value());
      }
      data.put("version", changes.version());
      return ServerSentEvent.create(toJson(data), c.isDelete() ? "delete" : "put", id);
    }
    List<Map<String, Object>> list = new ArrayList<>(changes.changes().size());
    for (KeyChange c : changes.changes()) {
      Map<String, Object> one = new LinkedHashMap<>();
      one.put("type", c.isDelete() ? "delete" : "put");
      one.put("key", c.key());
      if (!c.isDelete()) {
        one.put("value", c.value());
      }
      list.add(one);
    }
    Map<String, Object> data = new LinkedHashMap<>();
    data.put("version", changes.version());
    data.put("changes", list);
    return ServerSentEvent.create(toJson(data), "txn", id);
  }

  private String toJson(Object value) {
    try {
      return mapper.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Route json(akka.http.javadsl.model.StatusCode status, Object body) {
    return complete(JsonAnswer.of(mapper, status, body));
  }
}
