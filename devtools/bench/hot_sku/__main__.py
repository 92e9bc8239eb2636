from devtools.bench.hot_sku.run import main

main()
