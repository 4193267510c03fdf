package quorumkv.http;

import akka.event.LoggingAdapter;
import akka.http.ParsingErrorHandler;
import akka.http.javadsl.model.HttpResponse;
import akka.http.scaladsl.model.ErrorInfo;
import akka.http.scaladsl.model.StatusCode;
import akka.http.scaladsl.settings.ServerSettings;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;

/**
 * Answers a request too malformed to reach the routes (a request-target that is not a valid URI,
 * an unknown method, a URI or a header over akka-http's limits) in the API's shape,
 * {@code {"error": "..."}} with akka-http's status and message, instead of its plain text.
 * Configured as {@code akka.http.server.parsing.error-handler}; akka-http creates it.
 */
public final class JsonParsingErrors extends ParsingErrorHandler {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo error, LoggingAdapter log, ServerSettings settings) {
    String message = settings.verboseErrorMessages() ? error.formatPretty() : error.summary();
    log.warning("Illegal request, answered {}: {}", status.intValue(), message);
    return JsonAnswer.of(MAPPER, status, Map.of("error", message));
  }
}
