/**
 * A tiny builder for Fluentd's configuration syntax, so renderers describe structure instead of
 * concatenating strings. Values are quoted only when Fluentd would misread them bare.
 */

export type Param = string | number | boolean | undefined;

export interface Directive {
  name: string;
  arg?: string;
  params: [string, Param][];
  children: Directive[];
  comment?: string;
}

export function directive(
  name: string,
  arg: string | undefined,
  params: Record<string, Param> | [string, Param][],
  children: Directive[] = [],
  comment?: string,
): Directive {
  return { name, arg, params: Array.isArray(params) ? params : Object.entries(params), children, comment };
}

/**
 * A value read from the environment when Fluentd starts: keeps secrets out of the rendered text. `fetch`
 * makes a missing variable stop Fluentd; `ENV['X']` would make it an empty password or shared key.
 */
export function fromEnv(name: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) {
    throw new Error(`"${name}" is not an environment variable name`);
  }
  return `"#{ENV.fetch('${name}')}"`;
}

function formatValue(v: string | number | boolean): string {
  if (typeof v !== "string") {
    return String(v);
  }
  // Embedded-Ruby values ("#{...}") are passed as written; Fluentd evaluates them at start.
  if (/^"#\{.*\}"$/.test(v)) {
    return v;
  }
  // JSON documents: a single-quoted literal keeps Fluentd from parsing them as its own JSON values.
  if (/^\{.*\}$/.test(v) && !v.includes("'")) {
    return `'${v}'`;
  }
  if (v === "" || /[\s#"'\\]/.test(v)) {
    return JSON.stringify(v);
  }
  return v;
}

export function renderDirectives(directives: Directive[], indent = 0): string {
  const pad = "  ".repeat(indent);
  const out: string[] = [];
  for (const d of directives) {
    if (d.comment) {
      out.push(...d.comment.split("\n").map((line) => `${pad}# ${line}`));
    }
    out.push(`${pad}<${d.name}${d.arg ? ` ${d.arg}` : ""}>`);
    for (const [key, value] of d.params) {
      if (value !== undefined) {
        out.push(`${pad}  ${key} ${formatValue(value)}`);
      }
    }
    if (d.children.length > 0) {
      out.push(renderDirectives(d.children, indent + 1).trimEnd());
    }
    out.push(`${pad}</${d.name}>`);
  }
  return out.join("\n") + "\n";
}
