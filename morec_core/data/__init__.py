"""Datasets: raw formats in, the paper's preprocessed sequences and content caches out.

    readers/     one module per raw format; READERS[name].read(path, config) -> raw.RawDataset;
                 readers/formats.py describes each one's files (`morec data formats`)
    readers/content  data.items_file / data.text_columns for every reader, ids through
                 <name>.item2index
    audit        what the data holds (content and its source, repeats, ties), stored with each
                 prepared dataset; the data.min_text_coverage gate of modality arms
    labels       dataset_label: the one label of a dataset view in every table
    preprocess   dedup, chronological order, subsample, user filter, latest N, warm-K, ids
    splits       data.split=given: a published split kept in the positional format
    prepare      prepare(DataConfig) -> PreparedDataset, cached on disk; load_prepared(path)
    views        warm_view, cold_target_users, new_target_users
    batches      the training and evaluation batches cut from a PreparedDataset (what backbones
                 and the model consume: on the data side, so they need not import each other)
    tokens       token_cache(titles, tokenizer, ...) -> TokenCache
    images       image_cache(image_paths, ...) -> read-only memmap
    stats        dataset_stats: the paper's Table 1 columns
    catalog, download   public dataset URLs, resumable verified downloads
    errors       DataError: bad input, named down to the file and line or field

Nothing is imported here, so that importing one module (e.g. errors, for the CLI) stays cheap.
"""
