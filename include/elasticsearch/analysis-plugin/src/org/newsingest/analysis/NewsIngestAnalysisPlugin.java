package org.newsingest.analysis;

import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.ar.ArabicAnalyzer;
import org.apache.lucene.analysis.ar.ArabicNormalizationFilter;
import org.apache.lucene.analysis.ar.ArabicStemFilter;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * Lucene's Arabic, English, French and Russian analysis under the names Elasticsearch's
 * analysis-common module gives them, so the production mapping (analysis-arabic.json) loads on
 * a node that lacks that module. Only the defaults are offered: the mapping sets no options.
 */
public final class NewsIngestAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "arabic_normalization", filter(ArabicNormalizationFilter::new),
            "arabic_stem", filter(ArabicStemFilter::new),
            "decimal_digit", filter(DecimalDigitFilter::new));
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "arabic", analyzer(ArabicAnalyzer::new),
            "english", analyzer(EnglishAnalyzer::new),
            "french", analyzer(FrenchAnalyzer::new),
            "russian", analyzer(RussianAnalyzer::new));
    }

    private static AnalysisProvider<TokenFilterFactory> filter(
            Function<TokenStream, TokenStream> wrap) {
        return (indexSettings, environment, name, settings) ->
            new AbstractTokenFilterFactory(name) {
                @Override
                public TokenStream create(TokenStream input) {
                    return wrap.apply(input);
                }
            };
    }

    private static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> analyzer(
            Supplier<Analyzer> make) {
        return (indexSettings, environment, name, settings) -> {
            // One analyzer per index: Lucene analyzers hold per-thread state and are closed
            // with the index.
            Analyzer built = make.get();
            return new AbstractIndexAnalyzerProvider<Analyzer>(name) {
                @Override
                public Analyzer get() {
                    return built;
                }
            };
        };
    }
}
