// zhdocqa conformance check (issue 14): rank analysed passages with real Lucene.
//
//   java -cp lucene-core.jar:lucene-analyzers-common.jar:DIR LuceneRanks CORPUS QUERIES K SHARDS
//
// CORPUS: one passage per line, its analysed terms joined by spaces (line i is passage i).
// QUERIES: one query per line, its terms joined by spaces; a repeated term is a repeated clause.
// SHARDS: 1 indexes everything in one index; more cuts the passages into that many consecutive
// shards, searches each with the statistics of all of them (what OpenSearch's
// dfs_query_then_fetch does) and merges the shards' top hits.
// Output: one line per query, "doc:scorebits" pairs best first, scorebits the float's raw bits in hex.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TermStatistics;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;

public class LuceneRanks {
  static final String FIELD = "terms";
  static final BM25Similarity SIMILARITY = new BM25Similarity(1.5f, 0.75f);

  /** A shard's searcher that scores with statistics summed over every shard. */
  static final class GlobalStatsSearcher extends IndexSearcher {
    private final List<IndexReader> all;

    GlobalStatsSearcher(IndexReader shard, List<IndexReader> all) {
      super(shard);
      this.all = all;
      setSimilarity(SIMILARITY);
    }

    @Override
    public TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq) throws IOException {
      long df = 0;
      long ttf = 0;
      for (IndexReader reader : all) {
        df += reader.docFreq(term);
        ttf += reader.totalTermFreq(term);
      }
      return df == 0 ? null : new TermStatistics(term.bytes(), df, ttf);
    }

    @Override
    public CollectionStatistics collectionStatistics(String field) throws IOException {
      long maxDoc = 0;
      long docCount = 0;
      long sumTotalTermFreq = 0;
      long sumDocFreq = 0;
      for (IndexReader reader : all) {
        maxDoc += reader.maxDoc();
        docCount += reader.getDocCount(field);
        sumTotalTermFreq += reader.getSumTotalTermFreq(field);
        sumDocFreq += reader.getSumDocFreq(field);
      }
      return docCount == 0 ? null : new CollectionStatistics(field, maxDoc, docCount, sumTotalTermFreq, sumDocFreq);
    }
  }

  static IndexReader index(List<String> passages, int from, int to) throws IOException {
    ByteBuffersDirectory directory = new ByteBuffersDirectory();
    IndexWriterConfig config = new IndexWriterConfig(new WhitespaceAnalyzer());
    config.setSimilarity(SIMILARITY);
    // One thread, no merges: document ids stay in the order the passages were added.
    config.setMergePolicy(NoMergePolicy.INSTANCE);
    config.setRAMBufferSizeMB(256);
    try (IndexWriter writer = new IndexWriter(directory, config)) {
      for (int i = from; i < to; i++) {
        Document document = new Document();
        document.add(new TextField(FIELD, passages.get(i), Field.Store.NO));
        document.add(new StoredField("passage", i));
        writer.addDocument(document);
      }
    }
    IndexReader reader = DirectoryReader.open(directory);
    for (int doc = 0; doc < reader.maxDoc(); doc++) {
      int stored = reader.document(doc).getField("passage").numericValue().intValue();
      if (stored != from + doc) {
        throw new IllegalStateException("document " + doc + " holds passage " + stored + ", not " + (from + doc));
      }
    }
    return reader;
  }

  static BooleanQuery query(String line) {
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (String term : line.split(" ")) {
      if (!term.isEmpty()) {
        builder.add(new TermQuery(new Term(FIELD, term)), BooleanClause.Occur.SHOULD);
      }
    }
    return builder.build();
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 4) {
      System.err.println("usage: LuceneRanks CORPUS QUERIES K SHARDS");
      System.exit(2);
    }
    List<String> passages = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
    List<String> queries = Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8);
    int k = Integer.parseInt(args[2]);
    int shards = Integer.parseInt(args[3]);
    BooleanQuery.setMaxClauseCount(Integer.MAX_VALUE);

    List<IndexReader> readers = new ArrayList<>();
    int[] bases = new int[shards];
    for (int s = 0; s < shards; s++) {
      int from = (int) ((long) passages.size() * s / shards);
      int to = (int) ((long) passages.size() * (s + 1) / shards);
      bases[s] = from;
      readers.add(index(passages, from, to));
    }
    List<IndexSearcher> searchers = new ArrayList<>();
    for (IndexReader reader : readers) {
      searchers.add(new GlobalStatsSearcher(reader, readers));
    }

    PrintStream out = new PrintStream(System.out, false, "UTF-8");
    for (String line : queries) {
      BooleanQuery query = query(line);
      TopDocs[] perShard = new TopDocs[shards];
      for (int s = 0; s < shards; s++) {
        perShard[s] = searchers.get(s).search(query, k);
      }
      // Ties across shards go to the lower shard, then the lower document: corpus order.
      TopDocs merged = shards == 1 ? perShard[0] : TopDocs.merge(k, perShard);
      StringBuilder row = new StringBuilder();
      for (ScoreDoc hit : merged.scoreDocs) {
        int passage = (shards == 1 ? 0 : bases[hit.shardIndex]) + hit.doc;
        if (row.length() > 0) {
          row.append(' ');
        }
        row.append(passage).append(':').append(Integer.toHexString(Float.floatToRawIntBits(hit.score)));
      }
      out.println(row);
    }
    out.flush();
    for (IndexReader reader : readers) {
      reader.close();
    }
  }
}
