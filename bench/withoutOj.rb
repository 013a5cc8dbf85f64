# Loaded with RUBYOPT=-r<this file>: Fluentd as it ran before the bundle had Oj. The Elasticsearch output
# (out_elasticsearch.rb: `require 'oj'`, `rescue LoadError` => Yajl) and Fluentd's JSON formatter then fall
# back to Yajl, so the bench and the agent suite's burst measure the aggregator before and after in one run.
module Kernel
  alias_method :efk_require_with_oj, :require

  def require(name)
    raise LoadError, "cannot load such file -- oj (hidden by bench/withoutOj.rb)" if name == 'oj'

    efk_require_with_oj(name)
  end
  private :require, :efk_require_with_oj
end
