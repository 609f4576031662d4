package dev.pgmux.config;

import dev.pgmux.routing.BackendSpec;
import dev.pgmux.routing.BackendTemplate;
import dev.pgmux.routing.PatternRouter;
import dev.pgmux.routing.RequestField;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A pattern router's rules: their regular expressions, and backends whose {@code {placeholders}} must be named
 * groups of the rule's own patterns (or built-ins), so that a typo is a config error and not a connection that
 * fails later.
 */
final class PatternValidator {
    private final Checks checks;
    private final BackendValidator backends;

    PatternValidator(Checks checks, BackendValidator backends) {
        this.checks = checks;
        this.backends = backends;
    }

    /** {@code pattern:}: ordered rules; null after an error. */
    RouterSpec pattern(Key key, RawConfig.PatternSection raw) {
        if (raw.rules() == null || raw.rules().isEmpty()) {
            checks.error(key.child("rules"), "no rules: give a list of {name, match, backend}");
            return null;
        }
        int errorsBefore = checks.count();
        List<PatternRouter.Rule> rules = new ArrayList<>();
        for (int i = 0; i < raw.rules().size(); i++) {
            PatternRouter.Rule rule = rule(key.child("rules").index(i), raw.rules().get(i), i);
            if (rule != null) {
                rules.add(rule);
            }
        }
        return checks.count() > errorsBefore ? null : new RouterSpec.Pattern(rules);
    }

    private PatternRouter.Rule rule(Key key, RawConfig.PatternRule raw, int index) {
        if (raw == null) {
            checks.error(key, "empty rule: give match: and backend:");
            return null;
        }
        String name = raw.name() == null || raw.name().isBlank() ? "rules[" + index + "]" : raw.name().strip();
        int errorsBefore = checks.count();
        List<PatternRouter.Condition> conditions = new ArrayList<>();
        RawConfig.RuleMatch m = raw.match();
        if (m != null) {
            Key match = key.child("match");
            condition(conditions, match.child("user"), name, m.user(), RequestField.USER, null);
            condition(conditions, match.child("database"), name, m.database(), RequestField.DATABASE, null);
            condition(conditions, match.child("application_name"), name, m.applicationName(),
                    RequestField.APPLICATION_NAME, null);
            condition(conditions, match.child("sni"), name, m.sni(), RequestField.SNI, null);
            condition(conditions, match.child("client_addr"), name, m.clientAddr(), RequestField.CLIENT_ADDR, null);
            if (m.parameters() != null) {
                m.parameters().forEach((parameter, regex) -> condition(conditions,
                        match.child("parameters").child(parameter), name, regex, null, parameter));
            }
        }
        BackendTemplate backend = template(key.child("backend"), name, raw.backend(),
                checks.count() > errorsBefore ? null : PatternRouter.Rule.placeholderNames(conditions));
        if (checks.count() > errorsBefore || backend == null) {
            return null;
        }
        return new PatternRouter.Rule(name, conditions, backend); // its own checks were all made above
    }

    private void condition(List<PatternRouter.Condition> conditions, Key key, String rule, String regex,
                           RequestField field, String parameter) {
        if (regex == null) {
            return;
        }
        try {
            conditions.add(new PatternRouter.Condition(field, parameter, Pattern.compile(regex)));
        } catch (PatternSyntaxException e) {
            checks.error(key, "rule \"" + rule + "\": bad regular expression: " + e.getDescription()
                    + (e.getIndex() >= 0 ? " near index " + e.getIndex() : ""));
        }
    }

    /** @param known the placeholders the rule defines, or null when its patterns had errors (nothing to check) */
    private BackendTemplate template(Key key, String rule, BackendSpec raw, Set<String> known) {
        if (raw == null) {
            checks.error(key, "rule \"" + rule + "\" needs a backend: {host: ..., port: ...}");
            return null;
        }
        int errorsBefore = checks.count();
        BackendTemplate template = backends.template(key, raw);
        if (known != null) {
            placeholders(key.child("host"), rule, raw.host(), known);
            placeholders(key.child("port"), rule, raw.port(), known);
            placeholders(key.child("user"), rule, raw.user(), known);
            placeholders(key.child("database"), rule, raw.database(), known);
            raw.parameters().forEach((name, value) ->
                    placeholders(key.child("parameters").child(name), rule, value, known));
        }
        return checks.count() > errorsBefore ? null : template;
    }

    private void placeholders(Key key, String rule, String text, Set<String> known) {
        for (String p : BackendTemplate.placeholders(text)) {
            if (!known.contains(p)) {
                checks.error(key, "rule \"" + rule + "\": {" + p + "} is not a named group of the rule's patterns"
                        + " (groups and built-ins: " + String.join(", ", known) + ")");
            }
        }
    }
}
