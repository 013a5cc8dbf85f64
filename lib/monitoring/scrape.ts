import type { MetricsStyle } from "../names";

/** Where Prometheus scrapes a workload. */
export interface ScrapeTarget {
  port: number;
  path: string;
}

/**
 * The `prometheus.io/*` pod annotations that Prometheus' usual Kubernetes pod discovery reads, with the
 * `annotations` style; none otherwise (the operator's style uses ServiceMonitor and PodMonitor objects).
 */
export function scrapeAnnotations(style: MetricsStyle, target: ScrapeTarget): Record<string, string> {
  if (style !== "annotations") {
    return {};
  }
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(target.port),
    "prometheus.io/path": target.path,
  };
}
