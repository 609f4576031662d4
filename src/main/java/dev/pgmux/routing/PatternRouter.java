package dev.pgmux.routing;

import dev.pgmux.BackendConfig;
import dev.pgmux.RouteRequest;
import dev.pgmux.Router;
import dev.pgmux.RoutingException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes by ordered rules: each rule matches regular expressions against the user, database, SNI host name,
 * {@code application_name}, client address or any startup parameter, and builds the backend from the named
 * groups. The first rule whose every condition matches wins; no match is "no route" (FATAL 28000, or the next
 * router of a {@link ChainRouter}).
 *
 * <pre>{@code
 * PatternRouter router = PatternRouter.builder()
 *         .rule(PatternRouter.Rule.named("labs")
 *                 .user("(?<student>[a-z0-9]+)_(?<lab>lab[0-9]+)")
 *                 .to(BackendTemplate.builder().host("{lab}.labs.internal").user("{student}").database("{lab}")))
 *         .rule(PatternRouter.Rule.named("tenants")
 *                 .sni("(?<tenant>[a-z0-9-]+)\\.db\\.example\\.com")
 *                 .to(BackendTemplate.builder().host("{tenant}.tenants.internal")))
 *         .build();
 * }</pre>
 *
 * <p>A pattern must match the whole value ({@link Matcher#matches()}). A condition on a value the connection
 * does not have (no SNI, no {@code application_name}) does not match. The values of the named groups come from
 * the client: narrow them ({@code [a-z0-9]+}, not {@code .+}) before they become host names.
 */
public final class PatternRouter implements Router {
    private static final Logger log = LoggerFactory.getLogger(PatternRouter.class);

    /** Placeholders every rule may use besides its named groups (the {@link RequestField} keys); a group wins. */
    public static final List<String> BUILT_IN_PLACEHOLDERS = Arrays.stream(RequestField.values())
            .map(RequestField::key).toList();

    private final List<Rule> rules;

    private PatternRouter(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    public static PatternRouter of(List<Rule> rules) {
        return new PatternRouter(rules);
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<Rule> rules() {
        return rules;
    }

    @Override
    public BackendConfig route(RouteRequest request) throws RoutingException {
        for (Rule rule : rules) {
            Map<String, String> values = rule.match(request);
            if (values == null) {
                continue;
            }
            try {
                return rule.backend().expand(values);
            } catch (IllegalArgumentException e) {
                // The client's values made no backend (e.g. a {port} group of 99999): this rule cannot route it.
                log.warn("pattern rule matched but gave no backend rule={} user={} error={}", rule.name(),
                        request.user(), e.getMessage());
                throw RoutingException.noRoute(request.user());
            }
        }
        throw RoutingException.noRoute(request.user());
    }

    /**
     * One regular expression over one value of the connection: a {@link RequestField}, or a startup parameter
     * by name (then {@code field} is null).
     *
     * <p>Equal when field, parameter and the pattern's text and flags are: {@link Pattern} itself has no
     * equals, and a reload compares rules to tell whether the router changed.
     */
    public record Condition(RequestField field, String parameter, Pattern pattern) {
        public Condition {
            if ((field == null) == (parameter == null)) {
                throw new IllegalArgumentException("a condition is on a field or on a startup parameter");
            }
            Objects.requireNonNull(pattern, "pattern");
        }

        /** @throws java.util.regex.PatternSyntaxException for a bad regular expression */
        public static Condition of(RequestField field, String regex) {
            return new Condition(field, null, Pattern.compile(regex));
        }

        /** A condition on the startup parameter {@code name} (e.g. {@code options}). */
        public static Condition parameter(String name, String regex) {
            return new Condition(null, name, Pattern.compile(regex));
        }

        /** What this condition looks at, as the config file names it: {@code user}, {@code parameters.options}. */
        public String subject() {
            return field != null ? field.key() : "parameters." + parameter;
        }

        public String valueOf(RouteRequest request) {
            return field != null ? field.valueOf(request) : request.parameter(parameter);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Condition c && field == c.field && Objects.equals(parameter, c.parameter)
                    && pattern.pattern().equals(c.pattern.pattern()) && pattern.flags() == c.pattern.flags();
        }

        @Override
        public int hashCode() {
            return Objects.hash(field, parameter, pattern.pattern(), pattern.flags());
        }
    }

    /**
     * A rule: every condition must match; then the backend is the template filled in with the named groups
     * (and the {@link #BUILT_IN_PLACEHOLDERS}). A rule without conditions matches every connection.
     *
     * @throws IllegalArgumentException if the template uses a placeholder that no pattern of the rule defines
     */
    public record Rule(String name, List<Condition> conditions, BackendTemplate backend) {
        public Rule {
            Objects.requireNonNull(name, "name");
            conditions = List.copyOf(conditions);
            Objects.requireNonNull(backend, "backend");
            Set<String> known = placeholderNames(conditions);
            for (String p : backend.placeholders()) {
                if (!known.contains(p)) {
                    throw new IllegalArgumentException("rule \"" + name + "\": {" + p + "} is neither a named group of"
                            + " its patterns nor one of " + String.join(", ", BUILT_IN_PLACEHOLDERS));
                }
            }
        }

        public static Builder named(String name) {
            return new Builder(name);
        }

        /** The placeholders a template may use with these conditions: the built-in ones and every named group. */
        public static Set<String> placeholderNames(List<Condition> conditions) {
            Set<String> names = new LinkedHashSet<>(BUILT_IN_PLACEHOLDERS);
            for (Condition c : conditions) {
                names.addAll(c.pattern().namedGroups().keySet());
            }
            return names;
        }

        /** The placeholder values if every condition matches, else null. */
        Map<String, String> match(RouteRequest request) {
            Map<String, String> values = new HashMap<>();
            for (RequestField f : RequestField.values()) {
                String v = f.valueOf(request);
                values.put(f.key(), v == null ? "" : v);
            }
            for (Condition c : conditions) {
                String value = c.valueOf(request);
                if (value == null) {
                    return null;
                }
                Matcher m = c.pattern().matcher(value);
                if (!m.matches()) {
                    return null;
                }
                for (String group : m.namedGroups().keySet()) {
                    String g = m.group(group);
                    values.put(group, g == null ? "" : g); // an optional group that took no part
                }
            }
            return values;
        }

        /** Builds a {@link Rule}: conditions, then the backend with {@link #to}. */
        public static final class Builder {
            private final String name;
            private final List<Condition> conditions = new ArrayList<>();
            private BackendTemplate backend;

            private Builder(String name) {
                this.name = name;
            }

            public Builder match(RequestField field, String regex) {
                conditions.add(Condition.of(field, regex));
                return this;
            }

            public Builder user(String regex) {
                return match(RequestField.USER, regex);
            }

            public Builder database(String regex) {
                return match(RequestField.DATABASE, regex);
            }

            public Builder applicationName(String regex) {
                return match(RequestField.APPLICATION_NAME, regex);
            }

            /** The TLS SNI host name, in lower case. */
            public Builder sni(String regex) {
                return match(RequestField.SNI, regex);
            }

            public Builder clientAddr(String regex) {
                return match(RequestField.CLIENT_ADDR, regex);
            }

            /** Any startup parameter, e.g. {@code options}. */
            public Builder parameter(String name, String regex) {
                conditions.add(Condition.parameter(name, regex));
                return this;
            }

            public Builder to(BackendTemplate backend) {
                this.backend = backend;
                return this;
            }

            public Builder to(BackendTemplate.Builder backend) {
                return to(backend.build());
            }

            public Rule build() {
                return new Rule(name, conditions, backend);
            }
        }
    }

    /** Builds a {@link PatternRouter}; rules are tried in the order they are added. */
    public static final class Builder {
        private final List<Rule> rules = new ArrayList<>();

        public Builder rule(Rule rule) {
            rules.add(Objects.requireNonNull(rule, "rule"));
            return this;
        }

        public Builder rule(Rule.Builder rule) {
            return rule(rule.build());
        }

        public PatternRouter build() {
            return new PatternRouter(rules);
        }
    }
}
