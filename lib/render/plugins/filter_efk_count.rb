# A Prometheus counter of the records passing through, labelled by one record field (efk-pulumi).
#
# The prometheus filter of fluent-plugin-prometheus builds a label set for every record from a deep copy
# of the whole record; on the aggregator that was about a fifth of Fluentd's CPU. This filter counts each
# event stream (an agent's chunk) by the field's value and adds one increment per value, and passes the
# stream on unchanged. The counter lives in the registry the prometheus source serves; with several workers
# it carries a worker_id label, as the prometheus filter's do, so the workers' series stay apart when
# /aggregated_metrics puts them together.
require 'fluent/plugin/filter'
require 'prometheus/client'

module Fluent
  module Plugin
    class EfkCountFilter < Filter
      Fluent::Plugin.register_filter('efk_count', self)

      desc 'The counter name.'
      config_param :metric_name, :string
      desc 'Its help text.'
      config_param :desc, :string
      desc 'The record field counted by, and the label it becomes.'
      config_param :key, :string

      def multi_workers_ready?
        true
      end

      def configure(conf)
        super
        registry = ::Prometheus::Client.registry
        name = @metric_name.to_sym
        @label = @key.to_sym
        @base = system_config.workers > 1 ? { worker_id: fluentd_worker_id.to_s } : {}
        @counter = registry.get(name) ||
                   registry.counter(name, docstring: @desc, labels: [@label, *@base.keys])
      end

      def filter_stream(_tag, es)
        counts = Hash.new(0)
        es.each { |_time, record| counts[record[@key]] += 1 }
        counts.each { |value, n| @counter.increment(by: n, labels: { @label => value.to_s, **@base }) }
        es
      end
    end
  end
end
